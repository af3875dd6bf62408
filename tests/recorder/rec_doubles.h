/*
 * rec_doubles.h: the recorder's surroundings, replaced for its unit tests.
 *
 * The units of the sampled path, the slot registry, the writer and the
 * snapshot encoder (test_capture.c, test_writer.c) compile those modules of
 * preload/ as they are and link them with rec_doubles.c instead of what the
 * modules call outside themselves: the OS file (nmt_os.c: the profile file
 * goes to memory, MAPS and the identity strings are fixed, the clock is
 * real), the configuration (nmt_config.c: set by rec_setup), the bootstrap
 * (nmt_bootstrap.c: the real mmap) and the writer heap (nmt_wheap.c). The
 * unwinders are the real ones: a test calls the recorder from a chain of
 * its own functions and finds them in the captured stack by name.
 */
#ifndef REC_DOUBLES_H
#define REC_DOUBLES_H

#include <stddef.h>
#include <stdint.h>

#include "../../preload/nmt_internal.h"

/* Configures a recording at rate (1: every allocation) with the unwinder
 * unwind_mode (NMT_UNWIND_*: 0 libunwind, 1 frame pointers), and turns
 * recording on. */
void rec_setup(uint64_t rate, int unwind_mode);

/* The profile file as the fake OS received it. */
struct rec_file {
    unsigned char *data;
    size_t len;
    int creates, appends; /* calls that succeeded */
    int fail_appends;     /* this many next appends fail with -ENOSPC */
};
extern struct rec_file rec_file;

/* The fixed MAPS the fake OS reports: two mappings. */
#define REC_MAP0_START 0x400000u
#define REC_MAP1_START 0x7f0000000000ull
#define REC_EXE        "/opt/rec/prog"

/* How many slots the registry holds (nmt_thread.c never unlinks one). */
unsigned rec_slots(void);

/* 1 when frame (a return address, or frame 0 itself) lies in the function
 * named func of the test program (which is linked with -rdynamic). */
int rec_frame_is(uint64_t frame, int index, const char *func);
/* The index in frames[0..n) from which the k functions names[] follow one
 * another (callee first), or -1. */
int rec_find_chain(const uint64_t *frames, uint32_t n, const char *const *names, int k);

#endif
