#ifndef C_THREAD_PLACEMENT_H
#define C_THREAD_PLACEMENT_H

#include <pthread.h>

/// The CPU the calling thread runs on now, or -1 where the system cannot say.
int vs_current_cpu(void);

/// Lets `thread` run on every CPU the process may use except `cpu`; leaves it as it was and returns
/// nonzero when that would leave it none, or when the system refuses.
int vs_keep_thread_off_cpu(pthread_t thread, int cpu);

/// Tells the CPU the calling thread is waiting in a loop for another thread (a pause hint).
void vs_spin_pause(void);

#endif
