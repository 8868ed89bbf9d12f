/* SPDX-License-Identifier: MIT */
/*
 * Coroutines. On x86-64 a switch is co_switch() below: it pushes the
 * callee-saved registers on the old stack, swaps the stack pointer and
 * pops them from the new one, a dozen instructions. The initial frame is
 * built by hand so that the first switch "returns" into co_start().
 * _setjmp/_longjmp (the fallback elsewhere) save the same registers but
 * cost ~100 instructions a switch in glibc (__sigsetjmp, the cleanup-chain
 * walk in longjmp), and the vCPUs switch a few times per I/O. The
 * floating-point control words are not saved, exactly as _setjmp does not:
 * nothing here changes them. Shadow stacks (-fcf-protection=return) would
 * reject the hand-made return, so such builds take the fallback.
 *
 * The fallback: makecontext() builds the initial frame once, at creation;
 * every later switch is _setjmp/_longjmp, which saves only the callee-saved
 * registers and makes no system call (swapcontext would change the signal
 * mask on every switch).
 *
 * Stacks are mmap'd with a PROT_NONE guard page at the low end, so an
 * overflow faults instead of corrupting a neighbour.
 *
 * AddressSanitizer must be told about every stack change
 * (__sanitizer_start_switch_fiber before, __sanitizer_finish_switch_fiber
 * after), or it reports false stack errors.
 */
#undef _FORTIFY_SOURCE /* longjmp between stacks is the point here */
#include <setjmp.h>
#include <stdint.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include <glib.h>
#include "system/coroutine.h"

#if defined(__SANITIZE_ADDRESS__)
#define CO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CO_ASAN 1
#endif
#endif

#ifdef CO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* x86-64 System V, ELF, no shadow stack: the hand-written switch. */
#if defined(__x86_64__) && defined(__ELF__) &&                                 \
    !(defined(__CET__) && (__CET__ & 2))
#define CO_ASM_SWITCH 1
#endif

struct Coroutine {
#ifdef CO_ASM_SWITCH
    void *sp;        /* stack pointer where the coroutine resumes */
    void *caller_sp; /* stack pointer where yield returns to */
#else
    jmp_buf env;      /* where the coroutine resumes */
    jmp_buf *ret_env; /* where yield returns to */
#endif
    uint8_t *map;
    size_t map_size;
    uint8_t *stack;
    size_t stack_size;
    CoroutineEntry *entry;
    void *opaque;
    bool finished;
    void *fake_stack; /* ASan fake stack of the suspended side */
    const void *caller_bottom;
    size_t caller_size;
};

static __thread Coroutine *current;

static inline void asan_start(void **fake, const void *bottom, size_t size)
{
#ifdef CO_ASAN
    __sanitizer_start_switch_fiber(fake, bottom, size);
#else
    (void)fake, (void)bottom, (void)size;
#endif
}

static inline void asan_finish(void *fake, const void **bottom, size_t *size)
{
#ifdef CO_ASAN
    __sanitizer_finish_switch_fiber(fake, bottom, size);
#else
    (void)fake, (void)bottom, (void)size;
#endif
}

static uint8_t *map_stack(Coroutine *co, size_t stack_size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

#ifdef CO_ASAN
    stack_size *= 4; /* instrumented frames are much larger */
#endif
    stack_size = (stack_size + page - 1) & ~(page - 1);
    co->map_size = stack_size + page;
    co->map = mmap(NULL, co->map_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (co->map == MAP_FAILED) {
        g_error("coroutine: cannot map a %zu-byte stack", co->map_size);
    }
    if (mprotect(co->map, page, PROT_NONE) != 0) {
        g_error("coroutine: cannot protect the stack guard page");
    }
    co->stack = co->map + page;
    co->stack_size = stack_size;
    return co->stack;
}

#ifdef CO_ASM_SWITCH

/*
 * Push the callee-saved registers, store the stack pointer in *@from, load
 * @to and pop the registers saved there. To the caller it is an ordinary
 * call that returns when someone switches back, so the compiler already
 * treats every other register as clobbered.
 */
void co_switch(void **from, void *to);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl co_switch\n"
        ".hidden co_switch\n"
        ".type co_switch, @function\n"
        "co_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size co_switch, .-co_switch\n");

/* The first switch into a coroutine returns here (see coroutine_create). */
static void co_start(void)
{
    Coroutine *co = current;

    asan_finish(NULL, &co->caller_bottom, &co->caller_size);
    co->entry(co->opaque);
    co->finished = true;
    /* NULL fake-stack slot: this fiber never comes back. */
    asan_start(NULL, co->caller_bottom, co->caller_size);
    co_switch(&co->sp, co->caller_sp);
    g_assert_not_reached();
}

Coroutine *coroutine_create(CoroutineEntry *entry, void *opaque,
                            size_t stack_size)
{
    Coroutine *co = g_new0(Coroutine, 1);
    uint8_t *stack = map_stack(co, stack_size);
    void **sp = (void **)((uintptr_t)(stack + co->stack_size) & ~(uintptr_t)15);

    co->entry = entry;
    co->opaque = opaque;
    /*
     * The frame co_switch pops: six zeroed callee-saved registers (a zero
     * frame pointer ends backtraces), then co_start as the return address.
     * Above it a null slot stands for co_start's own return address, so
     * co_start begins with the stack 8 bytes off 16, as after a call.
     */
    *--sp = NULL;
    *--sp = (void *)co_start;
    for (int i = 0; i < 6; i++) {
        *--sp = NULL;
    }
    co->sp = sp;
    return co;
}

void coroutine_enter(Coroutine *co)
{
    void *fake = NULL;

    g_assert(current == NULL); /* asymmetric: only the main context */
    g_assert(!co->finished);
    current = co;
    asan_start(&fake, co->stack, co->stack_size);
    co_switch(&co->caller_sp, co->sp);
    asan_finish(fake, NULL, NULL);
    current = NULL;
}

void coroutine_yield(void)
{
    Coroutine *co = current;

    g_assert(co != NULL);
    asan_start(&co->fake_stack, co->caller_bottom, co->caller_size);
    co_switch(&co->sp, co->caller_sp);
    asan_finish(co->fake_stack, &co->caller_bottom, &co->caller_size);
}

#else /* !CO_ASM_SWITCH */

static void trampoline(unsigned lo, unsigned hi)
{
    Coroutine *co = (Coroutine *)(((uintptr_t)hi << 32) | lo);

    asan_finish(NULL, &co->caller_bottom, &co->caller_size);
    if (!_setjmp(co->env)) {
        /* Creation only built this frame: go back to the creator. */
        asan_start(&co->fake_stack, co->caller_bottom, co->caller_size);
        _longjmp(*co->ret_env, 1);
    }
    asan_finish(co->fake_stack, &co->caller_bottom, &co->caller_size);
    co->entry(co->opaque);
    co->finished = true;
    /* NULL fake-stack slot: this fiber never comes back. */
    asan_start(NULL, co->caller_bottom, co->caller_size);
    _longjmp(*co->ret_env, 1);
}

Coroutine *coroutine_create(CoroutineEntry *entry, void *opaque,
                            size_t stack_size)
{
    Coroutine *co = g_new0(Coroutine, 1);
    ucontext_t uc, old_uc;
    jmp_buf init_env;
    void *fake = NULL;

    map_stack(co, stack_size);
    co->entry = entry;
    co->opaque = opaque;

    if (getcontext(&uc) != 0) {
        g_error("coroutine: getcontext failed");
    }
    uc.uc_stack.ss_sp = co->stack;
    uc.uc_stack.ss_size = co->stack_size;
    uc.uc_link = NULL;
    makecontext(&uc, (void (*)(void))trampoline, 2, (unsigned)(uintptr_t)co,
                (unsigned)((uintptr_t)co >> 32));

    co->ret_env = &init_env;
    if (!_setjmp(init_env)) {
        asan_start(&fake, co->stack, co->stack_size);
        swapcontext(&old_uc, &uc);
    }
    asan_finish(fake, NULL, NULL);
    return co;
}

void coroutine_enter(Coroutine *co)
{
    jmp_buf env;
    void *fake = NULL;

    g_assert(current == NULL); /* asymmetric: only the main context */
    g_assert(!co->finished);
    co->ret_env = &env;
    current = co;
    if (!_setjmp(env)) {
        asan_start(&fake, co->stack, co->stack_size);
        _longjmp(co->env, 1);
    }
    asan_finish(fake, NULL, NULL);
    current = NULL;
}

void coroutine_yield(void)
{
    Coroutine *co = current;

    g_assert(co != NULL);
    if (!_setjmp(co->env)) {
        asan_start(&co->fake_stack, co->caller_bottom, co->caller_size);
        _longjmp(*co->ret_env, 1);
    }
    asan_finish(co->fake_stack, &co->caller_bottom, &co->caller_size);
}

#endif /* CO_ASM_SWITCH */

void coroutine_destroy(Coroutine *co)
{
    if (!co) {
        return;
    }
    g_assert(co != current);
#ifdef CO_ASAN
    /* Frames that never returned leave poisoned shadow behind; clear it
     * so a later mapping at this address starts clean. */
    ASAN_UNPOISON_MEMORY_REGION(co->stack, co->stack_size);
#endif
    munmap(co->map, co->map_size);
    g_free(co);
}

Coroutine *coroutine_self(void)
{
    return current;
}

bool coroutine_finished(const Coroutine *co)
{
    return co->finished;
}
