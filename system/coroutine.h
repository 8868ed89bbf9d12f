/* SPDX-License-Identifier: MIT */
/*
 * Stackful coroutines for guest execution contexts (vCPU threads, idle
 * loops). Asymmetric: the host thread's main context enters a coroutine,
 * which runs until it yields back or returns. Stacks are mmap'd host memory
 * with a guard page, outside guest RAM. Switches tell ASan about the stack
 * change so sanitizer builds stay clean.
 */
#ifndef SYSTEM_COROUTINE_H
#define SYSTEM_COROUTINE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct Coroutine Coroutine;
typedef void CoroutineEntry(void *opaque);

#define COROUTINE_DEFAULT_STACK (256 * 1024)

Coroutine *coroutine_create(CoroutineEntry *entry, void *opaque,
                            size_t stack_size);
void coroutine_destroy(Coroutine *co);
/* From the main context: run @co until it yields or finishes. */
void coroutine_enter(Coroutine *co);
/* From inside a coroutine: return to the context that entered it. */
void coroutine_yield(void);
/* The running coroutine, or NULL in the main context. */
Coroutine *coroutine_self(void);
bool coroutine_finished(const Coroutine *co);

#endif
