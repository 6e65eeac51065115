/* The kernel choice of gf_cpu.h, made once when the library is loaded. */
#include "gf_cpu.h"

#include <stdlib.h>
#include <string.h>

int gf_cpu_avx2_enabled = 0;
int gf_cpu_avx512_enabled = 0;

#if GF_X86_DISPATCH
/* A constructor, so the flag is written before any thread can read it (the extension module
 * is loaded, and this runs, before its first call). */
__attribute__((constructor)) static void gf_cpu_init(void)
{
    const char *portable = getenv("GRADFIT_PORTABLE");
    if (portable && portable[0] && strcmp(portable, "0") != 0) return;
    /* In a constructor the CPU model may not be filled in yet: ask for it first. */
    __builtin_cpu_init();
    gf_cpu_avx2_enabled = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    /* GRADFIT_NO_AVX512 keeps the AVX2 kernels on an AVX-512 CPU (to test them there). */
    const char *no512 = getenv("GRADFIT_NO_AVX512");
    gf_cpu_avx512_enabled = gf_cpu_avx2_enabled && __builtin_cpu_supports("avx512f")
                            && !(no512 && no512[0] && strcmp(no512, "0") != 0);
}
#endif
