/*
 * ProcessPrng for Wine 8.0 (Debian 12), which lacks bcryptprimitives.dll. Rust's standard
 * library takes its random seeds from ProcessPrng there, as every Windows since 10 provides
 * it; without this stand-in the loader refuses uptask.exe before main. Only the Wine test run
 * (scripts/test-windows.sh) places it next to the executable; nothing ships it.
 */
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!RtlGenRandom(data, n)) {
            return FALSE;
        }
        data += n;
        len -= n;
    }
    return TRUE;
}
