// Makes OpenMP threads sleep instead of spinning when they wait (see openmp_environment.c). Linking this
// target into an executable is what does it; nothing has to be called.
#ifndef VSEARCH_COPENMPENVIRONMENT_H
#define VSEARCH_COPENMPENVIRONMENT_H

/// The OMP_WAIT_POLICY value in force when OpenMP started ("PASSIVE" unless the user chose otherwise).
const char *vsearch_openmp_wait_policy(void);

#endif
