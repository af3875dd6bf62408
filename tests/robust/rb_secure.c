/*
 * rb_secure.c: a program linked against libnmtrace.so (no LD_PRELOAD, which
 * a setuid program ignores) that robust.py runs set-user-ID, so the recorder
 * starts under AT_SECURE. It allocates four times the recorder's bootstrap
 * arena in small blocks: every one must succeed, as without the recorder.
 * Prints "secure=N blocks=M" and exits 0 when all succeeded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>

#define BLOCKS 4096

int main(void)
{
    static void *kept[BLOCKS];
    for (int i = 0; i < BLOCKS; i++) {
        kept[i] = malloc(256);
        if (kept[i] == NULL) {
            printf("secure=%lu malloc failed at block %d\n", getauxval(AT_SECURE), i);
            return 1;
        }
    }
    for (int i = 0; i < BLOCKS; i++)
        free(kept[i]);
    printf("secure=%lu blocks=%d\n", getauxval(AT_SECURE), BLOCKS);
    return 0;
}
