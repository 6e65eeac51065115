/* Run-time kernel choice shared by every kernel file: AVX2 + FMA versions where the CPU has
 * them, portable versions otherwise or when the environment variable GRADFIT_PORTABLE is set.
 *
 * One mechanism for every compiler and C library: a function written once as an always-inline
 * body is compiled twice, once with __attribute__((target("avx2,fma"))) and once for the
 * baseline, and a plain branch on gf_cpu_avx2() picks one (GF_DISPATCH below). GCC's
 * target_clones would need GCC >= 12 (GCC 11 stops with "no dispatcher found"), glibc's ifunc
 * (musl has none) and an ifunc resolver that no environment variable can steer.
 *
 * GF_X86_DISPATCH is set by CMakeLists.txt from a compile probe; without it (a compiler driven
 * by hand) it follows the target. 0 means portable kernels only (any architecture). */
#ifndef GF_CPU_H
#define GF_CPU_H

#ifndef GF_X86_DISPATCH
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GF_X86_DISPATCH 1
#else
#define GF_X86_DISPATCH 0
#endif
#endif

#define GF_CAT_(a, b) a##b
#define GF_CAT(a, b) GF_CAT_(a, b)

/* Nonzero when the AVX2 + FMA kernels run: the CPU has both and GRADFIT_PORTABLE is unset,
 * empty or "0". Fixed when the library is loaded (it is read by the kernels of every thread,
 * and written nowhere else). Always 0 without GF_X86_DISPATCH. */
extern int gf_cpu_avx2_enabled;
static inline int gf_cpu_avx2(void) { return gf_cpu_avx2_enabled; }
/* Nonzero when, in addition, the CPU (and the operating system) has AVX-512F and
 * GRADFIT_NO_AVX512 is unset, empty or "0": kernels with an AVX-512 version (the float64 Gram
 * kernel, the refinement pass) use it. */
extern int gf_cpu_avx512_enabled;
static inline int gf_cpu_avx512(void) { return gf_cpu_avx512_enabled; }

/* The body of a dispatched function: inlined into both versions, so the compiler vectorises it
 * once for each instruction set. */
#define GF_BODY static inline __attribute__((always_inline))

#if GF_X86_DISPATCH
#define GF_TARGET_AVX2 __attribute__((target("avx2,fma")))
/* GF_DISPATCH(linkage, name, body, (parameters), (arguments)) defines
 * `linkage void name(parameters)`, which runs body(arguments) in its AVX2 + FMA version when
 * gf_cpu_avx2(), else in its baseline version. Use: write the kernel as
 * `GF_BODY void my_kernel_body(...)`, then `GF_DISPATCH(, my_kernel, my_kernel_body, ...)`. */
#define GF_DISPATCH(linkage, name, body, params, args)                                   \
    GF_TARGET_AVX2 static void GF_CAT(name, _avx2) params { body args; }                 \
    static void GF_CAT(name, _base) params { body args; }                                \
    linkage void name params                                                             \
    {                                                                                    \
        if (gf_cpu_avx2())                                                               \
            GF_CAT(name, _avx2) args;                                                    \
        else                                                                             \
            GF_CAT(name, _base) args;                                                    \
    }
#else
#define GF_DISPATCH(linkage, name, body, params, args) \
    linkage void name params { body args; }
#endif

#endif
