/*
 * nmt_cfi_read.h: bounded reads of a call-frame table in memory, shared by
 * the table reader (nmt_cfi_eval.c) and the instruction interpreter
 * (nmt_cfi_insn.c).
 *
 * A cursor never reads at or past its end: a read that would sets `bad`
 * and yields 0, and every later read yields 0 too, so a parser can read a
 * whole record and check `bad` once. LEB128 numbers longer than 10 bytes
 * are malformed. Values are little-endian (x86-64).
 */
#ifndef NMT_CFI_READ_H
#define NMT_CFI_READ_H

#include <stdint.h>
#include <string.h>

#include "nmt_cfi.h"

/* DW_EH_PE_* pointer encodings: the low nibble is the format, bits 4-6
 * what it is relative to, bit 7 an indirection. */
enum {
    NMT_PE_ABSPTR = 0x00,
    NMT_PE_ULEB = 0x01,
    NMT_PE_UDATA2 = 0x02,
    NMT_PE_UDATA4 = 0x03,
    NMT_PE_UDATA8 = 0x04,
    NMT_PE_SLEB = 0x09,
    NMT_PE_SDATA2 = 0x0a,
    NMT_PE_SDATA4 = 0x0b,
    NMT_PE_SDATA8 = 0x0c,
    NMT_PE_PCREL = 0x10,
    NMT_PE_DATAREL = 0x30,
    NMT_PE_INDIRECT = 0x80,
    NMT_PE_OMIT = 0xff,
};

struct nmt_cfi_cur {
    const uint8_t *p, *end;
    int bad;
};

static inline uint64_t nmt_cfi_rd(struct nmt_cfi_cur *c, size_t n)
{
    uint64_t v = 0;
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = 1;
        return 0;
    }
    memcpy(&v, c->p, n);
    c->p += n;
    return v;
}

static inline uint64_t nmt_cfi_uleb(struct nmt_cfi_cur *c)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10 && !c->bad && c->p < c->end; i++) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            return v;
    }
    c->bad = 1;
    return 0;
}

static inline int64_t nmt_cfi_sleb(struct nmt_cfi_cur *c)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10 && !c->bad && c->p < c->end; i++) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if ((b & 0x40) && 7 * (i + 1) < 64)
                v |= ~(uint64_t)0 << (7 * (i + 1));
            return (int64_t)v;
        }
    }
    c->bad = 1;
    return 0;
}

/* Skips n bytes (a DWARF expression, augmentation data). */
static inline void nmt_cfi_skip(struct nmt_cfi_cur *c, uint64_t n)
{
    if (c->bad || (uint64_t)(c->end - c->p) < n)
        c->bad = 1;
    else
        c->p += n;
}

/* The value of a pointer in encoding enc (its format and relative-to
 * parts; an indirect or aligned one is malformed here). datarel is the base
 * of data-relative values, 0 where there is none. */
static inline uintptr_t nmt_cfi_ptr(struct nmt_cfi_cur *c, uint8_t enc, uintptr_t datarel)
{
    uintptr_t at = (uintptr_t)c->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case NMT_PE_ABSPTR:
    case NMT_PE_UDATA8:
    case NMT_PE_SDATA8:
        v = nmt_cfi_rd(c, 8);
        break;
    case NMT_PE_ULEB:
        v = nmt_cfi_uleb(c);
        break;
    case NMT_PE_UDATA2:
        v = nmt_cfi_rd(c, 2);
        break;
    case NMT_PE_UDATA4:
        v = nmt_cfi_rd(c, 4);
        break;
    case NMT_PE_SLEB:
        v = (uint64_t)nmt_cfi_sleb(c);
        break;
    case NMT_PE_SDATA2:
        v = (uint64_t)(int64_t)(int16_t)nmt_cfi_rd(c, 2);
        break;
    case NMT_PE_SDATA4:
        v = (uint64_t)(int64_t)(int32_t)nmt_cfi_rd(c, 4);
        break;
    default:
        c->bad = 1;
        return 0;
    }
    switch (enc & 0xf0) {
    case 0:
        return (uintptr_t)v;
    case NMT_PE_PCREL:
        return (uintptr_t)v + at;
    case NMT_PE_DATAREL:
        if (datarel != 0)
            return (uintptr_t)v + datarel;
        break;
    default:
        break;
    }
    c->bad = 1;
    return 0;
}

/* What the interpreter needs of one FDE and its CIE: their instruction
 * bytes, the CIE's alignment factors and the FDE's pointer encoding (for
 * DW_CFA_set_loc), and where the FDE's code starts. */
struct nmt_cfi_prog {
    const uint8_t *cie_insn, *cie_end;
    const uint8_t *fde_insn, *fde_end;
    uint64_t code_align;
    int64_t data_align;
    uintptr_t pc_begin;
    uint8_t fde_enc;
};

/* Runs the CIE's initial instructions, then the FDE's up to ip, and says
 * the rule in force there (nmt_cfi_insn.c). */
NMT_HIDDEN enum nmt_cfi_result nmt__cfi_run(const struct nmt_cfi_prog *p, uintptr_t ip,
                                            struct nmt_cfi_rule *out);

#endif
