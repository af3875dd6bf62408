/*
 * nmt_cfi_insn.c: the call-frame instructions of a CIE and an FDE, run up
 * to an address (nmt__cfi_run, nmt_cfi_read.h).
 *
 * Only what the rule of nmt_cfi.h can hold is tracked: the CFA (a register
 * and an offset, or "an expression"), and the rules of rbp (DWARF register
 * 6) and of the return address (column 16). Every other register's rule is
 * read and dropped, a DWARF expression included (skipped by its length).
 * The state before the CIE's instructions is the one at a function's entry
 * on x86-64: CFA = rsp + 8, return address at CFA - 8, rbp unchanged.
 *
 * Instructions are read through a bounded cursor and each one moves it
 * forward, so the loop ends at the end of the instructions at the latest; a
 * malformed or unknown instruction, a DW_CFA_remember_state nested deeper
 * than NMT_CFI_STACK or a DW_CFA_restore_state without one makes the
 * answer NMT_CFI_UNSUPPORTED. DWARF offsets are factored: a register saved
 * by DW_CFA_offset(N) is at CFA + N * data_align (data_align is -8 here).
 */
#include "nmt_cfi_read.h"

#define NMT_CFI_STACK 8
#define REG_RA        16

enum how { H_SAME, H_UNDEF, H_OFF, H_OTHER };

struct rules {
    int64_t cfa_off, rbp_off, ra_off;
    uint64_t cfa_reg;
    uint8_t cfa_expr, rbp, ra;
};

struct vm {
    struct rules cur, init, stack[NMT_CFI_STACK];
    unsigned depth;
    uintptr_t loc, ip;
    const struct nmt_cfi_prog *p;
    int done; /* the next instruction applies past ip */
};

/* Sets register reg's rule (only rbp's and the return address's are kept). */
static void set_rule(struct rules *r, uint64_t reg, enum how how, int64_t off)
{
    if (reg == NMT_CFI_RBP) {
        r->rbp = (uint8_t)how;
        r->rbp_off = off;
    } else if (reg == REG_RA) {
        r->ra = (uint8_t)how;
        r->ra_off = off;
    }
}

static void restore_rule(struct vm *m, uint64_t reg)
{
    if (reg == NMT_CFI_RBP)
        set_rule(&m->cur, reg, m->init.rbp, m->init.rbp_off);
    else if (reg == REG_RA)
        set_rule(&m->cur, reg, m->init.ra, m->init.ra_off);
}

/* The factored offset n * data_align, computed without overflow. */
static int64_t factored(const struct vm *m, uint64_t n)
{
    return (int64_t)(n * (uint64_t)m->p->data_align);
}

/* Moves the location on by delta code units; past ip, the run is done. */
static void advance(struct vm *m, uint64_t delta)
{
    uint64_t step, to;
    if (__builtin_mul_overflow(delta, m->p->code_align, &step) ||
        __builtin_add_overflow((uint64_t)m->loc, step, &to) || to > m->ip)
        m->done = 1;
    else
        m->loc = (uintptr_t)to;
}

/* The DW_CFA_def_cfa* family; returns 0 when op is not one of them. */
static int cfa_op(struct vm *m, struct nmt_cfi_cur *c, uint8_t op)
{
    struct rules *r = &m->cur;
    switch (op) {
    case 0x0c: /* def_cfa */
        r->cfa_reg = nmt_cfi_uleb(c);
        r->cfa_off = (int64_t)nmt_cfi_uleb(c);
        r->cfa_expr = 0;
        return 1;
    case 0x12: /* def_cfa_sf */
        r->cfa_reg = nmt_cfi_uleb(c);
        r->cfa_off = factored(m, (uint64_t)nmt_cfi_sleb(c));
        r->cfa_expr = 0;
        return 1;
    case 0x0d: /* def_cfa_register: keeps an expression CFA unsupported */
        r->cfa_reg = nmt_cfi_uleb(c);
        return 1;
    case 0x0e: /* def_cfa_offset */
        r->cfa_off = (int64_t)nmt_cfi_uleb(c);
        return 1;
    case 0x13: /* def_cfa_offset_sf */
        r->cfa_off = factored(m, (uint64_t)nmt_cfi_sleb(c));
        return 1;
    case 0x0f: /* def_cfa_expression */
        nmt_cfi_skip(c, nmt_cfi_uleb(c));
        r->cfa_expr = 1;
        return 1;
    default:
        return 0;
    }
}

/* The instructions that set one register's rule; 0 when op is not one. */
static int reg_op(struct vm *m, struct nmt_cfi_cur *c, uint8_t op)
{
    uint64_t reg;
    switch (op) {
    case 0x05: /* offset_extended */
        reg = nmt_cfi_uleb(c);
        set_rule(&m->cur, reg, H_OFF, factored(m, nmt_cfi_uleb(c)));
        return 1;
    case 0x11: /* offset_extended_sf */
        reg = nmt_cfi_uleb(c);
        set_rule(&m->cur, reg, H_OFF, factored(m, (uint64_t)nmt_cfi_sleb(c)));
        return 1;
    case 0x2f: /* GNU_negative_offset_extended */
        reg = nmt_cfi_uleb(c);
        set_rule(&m->cur, reg, H_OFF, factored(m, 0 - nmt_cfi_uleb(c)));
        return 1;
    case 0x06: /* restore_extended */
        restore_rule(m, nmt_cfi_uleb(c));
        return 1;
    case 0x07: /* undefined */
        set_rule(&m->cur, nmt_cfi_uleb(c), H_UNDEF, 0);
        return 1;
    case 0x08: /* same_value */
        set_rule(&m->cur, nmt_cfi_uleb(c), H_SAME, 0);
        return 1;
    case 0x09: /* register */
    case 0x14: /* val_offset */
    case 0x15: /* val_offset_sf */
        reg = nmt_cfi_uleb(c);
        nmt_cfi_uleb(c); /* the other register, or an offset: either way not this shape */
        set_rule(&m->cur, reg, H_OTHER, 0);
        return 1;
    case 0x10: /* expression */
    case 0x16: /* val_expression */
        reg = nmt_cfi_uleb(c);
        nmt_cfi_skip(c, nmt_cfi_uleb(c));
        set_rule(&m->cur, reg, H_OTHER, 0);
        return 1;
    default:
        return 0;
    }
}

/* Location and state instructions; 0 when op is not one of them. */
static int flow_op(struct vm *m, struct nmt_cfi_cur *c, uint8_t op)
{
    switch (op) {
    case 0x00: /* nop */
        return 1;
    case 0x01: { /* set_loc */
        uintptr_t to = nmt_cfi_ptr(c, m->p->fde_enc, 0);
        if (to > m->ip)
            m->done = 1;
        else
            m->loc = to;
        return 1;
    }
    case 0x02: /* advance_loc1 */
        advance(m, nmt_cfi_rd(c, 1));
        return 1;
    case 0x03: /* advance_loc2 */
        advance(m, nmt_cfi_rd(c, 2));
        return 1;
    case 0x04: /* advance_loc4 */
        advance(m, nmt_cfi_rd(c, 4));
        return 1;
    case 0x0a: /* remember_state */
        if (m->depth >= NMT_CFI_STACK)
            c->bad = 1;
        else
            m->stack[m->depth++] = m->cur;
        return 1;
    case 0x0b: /* restore_state */
        if (m->depth == 0)
            c->bad = 1;
        else
            m->cur = m->stack[--m->depth];
        return 1;
    case 0x2e: /* GNU_args_size */
        nmt_cfi_uleb(c);
        return 1;
    default:
        return 0;
    }
}

/* Runs [from, to) until the end or past ip. Returns 0, or -1 when an
 * instruction is malformed or unknown. */
static int run(struct vm *m, const uint8_t *from, const uint8_t *to)
{
    struct nmt_cfi_cur c = {from, to, 0};
    while (!m->done && !c.bad && c.p < c.end) {
        uint8_t op = *c.p++;
        uint8_t low = op & 0x3f;
        switch (op >> 6) {
        case 1:
            advance(m, low);
            break;
        case 2:
            set_rule(&m->cur, low, H_OFF, factored(m, nmt_cfi_uleb(&c)));
            break;
        case 3:
            restore_rule(m, low);
            break;
        default:
            if (!flow_op(m, &c, op) && !cfa_op(m, &c, op) && !reg_op(m, &c, op))
                return -1;
        }
    }
    return c.bad ? -1 : 0;
}

/* The rule the state in m gives. */
static enum nmt_cfi_result conclude(const struct rules *r, struct nmt_cfi_rule *out)
{
    if (r->ra == H_UNDEF)
        return NMT_CFI_END;
    if (r->ra != H_OFF || r->ra_off != -8 || r->cfa_expr)
        return NMT_CFI_UNSUPPORTED;
    if ((r->cfa_reg != NMT_CFI_RSP && r->cfa_reg != NMT_CFI_RBP) || r->cfa_off < INT32_MIN ||
        r->cfa_off > INT32_MAX)
        return NMT_CFI_UNSUPPORTED;
    out->cfa_reg = (uint8_t)r->cfa_reg;
    out->cfa_off = (int32_t)r->cfa_off;
    if (r->rbp == H_SAME) {
        out->rbp_how = NMT_CFI_SAME;
        out->rbp_off = 0;
    } else if (r->rbp == H_OFF && r->rbp_off >= INT16_MIN && r->rbp_off <= INT16_MAX) {
        out->rbp_how = NMT_CFI_AT;
        out->rbp_off = (int16_t)r->rbp_off;
    } else {
        return NMT_CFI_UNSUPPORTED;
    }
    return NMT_CFI_OK;
}

NMT_HIDDEN enum nmt_cfi_result nmt__cfi_run(const struct nmt_cfi_prog *p, uintptr_t ip,
                                            struct nmt_cfi_rule *out)
{
    struct vm m;
    m.cur.cfa_reg = NMT_CFI_RSP;
    m.cur.cfa_off = 8;
    m.cur.cfa_expr = 0;
    m.cur.rbp = H_SAME;
    m.cur.rbp_off = 0;
    m.cur.ra = H_OFF;
    m.cur.ra_off = -8;
    m.depth = 0;
    m.loc = p->pc_begin;
    m.ip = ip;
    m.p = p;
    m.done = 0;
    m.init = m.cur; /* what a DW_CFA_restore in the CIE itself goes back to */
    if (run(&m, p->cie_insn, p->cie_end) != 0)
        return NMT_CFI_UNSUPPORTED;
    m.init = m.cur;
    m.done = 0;
    m.loc = p->pc_begin;
    if (run(&m, p->fde_insn, p->fde_end) != 0)
        return NMT_CFI_UNSUPPORTED;
    return conclude(&m.cur, out);
}
