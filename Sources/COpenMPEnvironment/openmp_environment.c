// Debian's oneDNN runs on OpenMP (libgomp), whose waiting threads spin by
// default. On a machine whose cores are shared with other work, a spinning
// worker takes the core that the thread it waits for needs: a 15 ms inference
// was measured at 600 ms. libgomp reads OMP_WAIT_POLICY once, in its
// constructor, before main and before any code of ours can run, and glibc
// rebuilds the environment after .preinit_array functions run, so setenv()
// cannot reach it. Instead, a .preinit_array function (run by the dynamic
// loader before every shared library's constructor) re-executes the program
// once with OMP_WAIT_POLICY=PASSIVE added. A value the user set is kept, and
// if the re-execution fails the program simply goes on with libgomp's default.
//
// Only executables link this (vsearch, vsearch-bench, the test binary; other
// programs through the OpenMPPassiveWait product): the loader runs
// .preinit_array entries of the executable only, and a library that carried it
// would restart every program that uses the library, wanted or not.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "COpenMPEnvironment.h"

static const char policy_prefix[] = "OMP_WAIT_POLICY=";

static void vsearch_set_openmp_wait_policy(int argc, char **argv, char **envp) {
    (void)argc;
    if (argv == NULL || argv[0] == NULL || envp == NULL) return;
    size_t count = 0;
    for (; envp[count] != NULL; count++) {
        if (strncmp(envp[count], policy_prefix, sizeof policy_prefix - 1) == 0) return;
    }
    char **environment = malloc((count + 2) * sizeof *environment);
    if (environment == NULL) return;
    memcpy(environment, envp, count * sizeof *environment);
    environment[count] = "OMP_WAIT_POLICY=PASSIVE";
    environment[count + 1] = NULL;
    execve("/proc/self/exe", argv, environment);
    free(environment);
}

__attribute__((section(".preinit_array"), used)) static void (*const vsearch_preinit)(int, char **, char **) =
    vsearch_set_openmp_wait_policy;

const char *vsearch_openmp_wait_policy(void) {
    const char *policy = getenv("OMP_WAIT_POLICY");
    return policy ? policy : "";
}
