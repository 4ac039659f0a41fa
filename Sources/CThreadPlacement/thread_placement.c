// glibc declares sched_getcpu and the pthread affinity calls only for GNU sources, which Swift's
// Glibc module does not ask for.
#define _GNU_SOURCE
#include "CThreadPlacement.h"

#include <sched.h>

int vs_current_cpu(void) {
#ifdef __linux__
    return sched_getcpu();
#else
    return -1;
#endif
}

int vs_keep_thread_off_cpu(pthread_t thread, int cpu) {
#ifdef __linux__
    if (cpu < 0 || cpu >= CPU_SETSIZE) return -1;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
    CPU_CLR(cpu, &allowed);
    if (CPU_COUNT(&allowed) == 0) return -1;
    return pthread_setaffinity_np(thread, sizeof allowed, &allowed);
#else
    (void)thread;
    (void)cpu;
    return -1;
#endif
}

void vs_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}
