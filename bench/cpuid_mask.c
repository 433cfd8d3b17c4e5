/* CPUID answers without AVX-512, VNNI and BF16, for a copy of ONNX Runtime whose `cpuid`
 * instructions were replaced by `int3; nop` (bench/avx2_serving.py). Benchmark-only: it lets
 * ONNX Runtime's MLAS pick the kernels it would pick on an AVX2-only CPU, which it otherwise
 * decides from CPUID with no setting to lower it.
 *
 * Loaded with LD_PRELOAD; the constructor installs a SIGTRAP handler. At a trap whose
 * instruction bytes are CC 90 (a patched cpuid), it runs the real cpuid for the same leaf and
 * subleaf, clears the masked feature bits and writes EAX..EDX back; execution resumes at the
 * nop. Any other trap gets the default action. Counts what it masked, printed at exit. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t masked_calls;

#define BIT(n) (1u << (n))

static void mask(unsigned leaf, unsigned sub, unsigned *a, unsigned *b, unsigned *c, unsigned *d) {
    if (leaf == 7 && sub == 0) {
        /* EBX: avx512 f dq ifma pf er cd bw vl */
        *b &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31));
        /* ECX: avx512 vbmi vbmi2 vnni bitalg vpopcntdq */
        *c &= ~(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14));
        /* EDX: avx512 4vnniw 4fmaps vp2intersect fp16, amx bf16 tile int8 */
        *d &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25));
    } else if (leaf == 7 && sub == 1) {
        *a &= ~(BIT(4) | BIT(5) | BIT(21) | BIT(23)); /* avx-vnni, avx512_bf16, amx-fp16, avx-ifma */
        *d &= ~(BIT(4) | BIT(5) | BIT(10));            /* avx-vnni-int8, avx-ne-convert, avx-vnni-int16 */
    } else if (leaf == 0xD && sub == 0) {
        *a &= ~(BIT(5) | BIT(6) | BIT(7)); /* XSAVE state: opmask, ZMM_Hi256, Hi16_ZMM */
    }
}

static void on_trap(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    greg_t *regs = uc->uc_mcontext.gregs;
    const unsigned char *at = (const unsigned char *)regs[REG_RIP] - 1;
    if (at[0] != 0xCC || at[1] != 0x90) { /* not a patched cpuid: behave as if unhandled */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    unsigned leaf = (unsigned)regs[REG_RAX], sub = (unsigned)regs[REG_RCX];
    unsigned a, b, c, d;
    __cpuid_count(leaf, sub, a, b, c, d);
    mask(leaf, sub, &a, &b, &c, &d);
    regs[REG_RAX] = a; /* cpuid zero-extends into the 64-bit registers */
    regs[REG_RBX] = b;
    regs[REG_RCX] = c;
    regs[REG_RDX] = d;
    masked_calls++;
    (void)info;
}

static void report(void) {
    if (getenv("CPUID_MASK_QUIET") == NULL)
        fprintf(stderr, "cpuid_mask: %d cpuid calls answered without AVX-512/VNNI/BF16\n",
                (int)masked_calls);
}

int cpuid_mask_calls(void) { return masked_calls; }

__attribute__((constructor)) static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_trap;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTRAP, &action, NULL);
    atexit(report);
}
