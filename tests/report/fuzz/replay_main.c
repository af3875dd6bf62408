/*
 * replay_main.c: runs fuzz_reader's target over files named on the command
 * line (the seed corpus), for compilers without libFuzzer: the corpus is
 * then a plain regression test in every build, sanitizers included.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0, n;
        do {
            if (len == cap) {
                cap = cap ? cap * 2 : 65536;
                buf = realloc(buf, cap);
                if (!buf)
                    return 1;
            }
            n = fread(buf + len, 1, cap - len, f);
            len += n;
        } while (n > 0);
        fclose(f);
        /* Every prefix too: the reader must survive a cut anywhere. */
        for (size_t cut = 0; cut <= len; cut += 1 + len / 512)
            LLVMFuzzerTestOneInput(buf, cut);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
    }
    printf("replayed %d inputs\n", argc - 1);
    return 0;
}
