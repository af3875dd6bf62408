/*
 * rb_plugin.c: a small shared object that rb_dlopen loads and unloads in a
 * loop. It allocates in its constructor (freed in its destructor) and in
 * rb_plugin_work, which leaks one block per call from code that is gone
 * once the object is unloaded.
 */
#include <stdlib.h>
#include <string.h>

static char *state;

__attribute__((constructor)) static void plugin_load(void)
{
    state = malloc(4096);
    if (state != NULL)
        memset(state, 1, 4096);
}

__attribute__((destructor)) static void plugin_unload(void)
{
    free(state);
    state = NULL;
}

void *rb_plugin_kept;

unsigned long rb_plugin_work(int i)
{
    unsigned long sum = 0;
    for (int k = 0; k < 50; k++) {
        size_t size = 64 + (size_t)((i * 31 + k * 17) % 2000);
        unsigned char *p = malloc(size);
        if (p == NULL)
            return 0;
        memset(p, (i + k) & 0xff, size);
        sum += p[size / 3] + size;
        free(p);
    }
    void **keep = malloc(512);
    if (keep != NULL) {
        *keep = rb_plugin_kept;
        rb_plugin_kept = keep;
    }
    return sum + (state != NULL ? (unsigned char)state[i % 4096] : 0);
}
