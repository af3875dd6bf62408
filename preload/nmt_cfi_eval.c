/*
 * nmt_cfi_eval.c: finding the FDE that covers an address through an
 * object's .eh_frame_hdr search table, and reading that FDE and its CIE
 * (nmt_cfi_eval.h). The instructions they hold are run by nmt_cfi_insn.c.
 *
 * Layouts (x86-64, as glibc, gcc and the linkers write them):
 *   .eh_frame_hdr: version (1), eh_frame_ptr encoding, fde_count encoding,
 *     table encoding, eh_frame_ptr, fde_count, then fde_count pairs
 *     (initial location, FDE address) sorted by location; the table
 *     encoding handled is data-relative signed 4 bytes (relative to the
 *     header's start), the only one linkers write.
 *   CIE: length, id 0, version (1 or 3), augmentation string, code and
 *     data alignment factors, return-address column, augmentation data
 *     (with "z": its length, then for P a personality pointer, for L the
 *     LSDA encoding, for R the FDEs' pointer encoding; S marks a signal
 *     frame), initial instructions.
 *   FDE: length, offset back to its CIE, pc_begin, pc_range, augmentation
 *     data (with "z"), instructions.
 * A 64-bit length (0xffffffff) is not written by these tools: unsupported.
 */
#include "nmt_cfi_eval.h"
#include "nmt_cfi_read.h"

#define NMT_CFI_RA 16 /* the return address column on x86-64 */

/* The loaded segment holding [a, a + n), as its end, or 0. */
static uintptr_t segment_end(const struct dl_phdr_info *info, uintptr_t a, uintptr_t n)
{
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && a >= lo && n <= ph->p_memsz && a - lo <= ph->p_memsz - n)
            return lo + ph->p_memsz;
    }
    return 0;
}

/* Reads the header of the table at hdr (size bytes) into o. */
static uintptr_t read_header(struct nmt_cfi_obj *o, const struct dl_phdr_info *info, uintptr_t hdr,
                             uintptr_t size)
{
    struct nmt_cfi_cur c = {(const uint8_t *)hdr, (const uint8_t *)(hdr + size), 0};
    uint8_t version = (uint8_t)nmt_cfi_rd(&c, 1);
    uint8_t ptr_enc = (uint8_t)nmt_cfi_rd(&c, 1);
    uint8_t count_enc = (uint8_t)nmt_cfi_rd(&c, 1);
    uint8_t table_enc = (uint8_t)nmt_cfi_rd(&c, 1);
    if (c.bad || version != 1 || ptr_enc == NMT_PE_OMIT || count_enc == NMT_PE_OMIT ||
        table_enc != (NMT_PE_DATAREL | NMT_PE_SDATA4) || (ptr_enc & NMT_PE_INDIRECT) ||
        (count_enc & NMT_PE_INDIRECT))
        return NMT_CFI_UNSUPPORTED;
    uintptr_t eh = nmt_cfi_ptr(&c, ptr_enc, hdr);
    uintptr_t count = nmt_cfi_ptr(&c, count_enc, hdr);
    if (c.bad || count > (uintptr_t)(c.end - c.p) / 8)
        return NMT_CFI_UNSUPPORTED;
    uintptr_t eh_end = segment_end(info, eh, 1);
    if (eh_end == 0)
        return NMT_CFI_UNSUPPORTED;
    o->table = (uintptr_t)c.p;
    o->count = count;
    o->eh_lo = eh;
    o->eh_hi = eh_end;
    return count > 0 ? NMT_CFI_OK : NMT_CFI_NOFDE;
}

NMT_HIDDEN void nmt__cfi_describe(struct nmt_cfi_obj *o, const struct dl_phdr_info *info)
{
    o->hdr = o->table = o->eh_lo = o->eh_hi = o->count = 0;
    o->status = NMT_CFI_NOFDE;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_GNU_EH_FRAME)
            continue;
        uintptr_t hdr = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_memsz < 4 || segment_end(info, hdr, ph->p_memsz) == 0) {
            o->status = NMT_CFI_UNSUPPORTED;
            return;
        }
        o->hdr = hdr;
        o->status = read_header(o, info, hdr, ph->p_memsz);
        return;
    }
}

/* The FDE of the last table entry whose location is <= ip, or 0. */
static uintptr_t search(const struct nmt_cfi_obj *o, uintptr_t ip)
{
    const uint8_t *t = (const uint8_t *)o->table;
    uintptr_t lo = 0, hi = o->count; /* the answer is below hi */
    while (lo < hi) {
        uintptr_t mid = lo + (hi - lo) / 2;
        int32_t loc;
        memcpy(&loc, t + mid * 8, 4);
        if (o->hdr + (uintptr_t)(intptr_t)loc <= ip)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    int32_t fde;
    memcpy(&fde, t + (lo - 1) * 8 + 4, 4);
    return o->hdr + (uintptr_t)(intptr_t)fde;
}

/* Reads the CIE at cie (inside the object's .eh_frame) into p, and says
 * through *z and *enc whether FDEs carry augmentation data and how their
 * pointers are encoded. */
static enum nmt_cfi_result read_cie(const struct nmt_cfi_obj *o, uintptr_t cie,
                                    struct nmt_cfi_prog *p, int *z)
{
    struct nmt_cfi_cur c = {(const uint8_t *)cie, (const uint8_t *)o->eh_hi, 0};
    uint64_t len = nmt_cfi_rd(&c, 4);
    if (c.bad || len == 0 || len == 0xffffffffu || len > (uint64_t)(c.end - c.p))
        return NMT_CFI_UNSUPPORTED;
    c.end = c.p + len;
    uint32_t id = (uint32_t)nmt_cfi_rd(&c, 4);
    uint8_t version = (uint8_t)nmt_cfi_rd(&c, 1);
    if (c.bad || id != 0 || (version != 1 && version != 3))
        return NMT_CFI_UNSUPPORTED;
    const char *aug = (const char *)c.p;
    size_t aug_len = strnlen(aug, (size_t)(c.end - c.p));
    nmt_cfi_skip(&c, aug_len + 1);
    p->code_align = nmt_cfi_uleb(&c);
    p->data_align = nmt_cfi_sleb(&c);
    uint64_t ra = version == 1 ? nmt_cfi_rd(&c, 1) : nmt_cfi_uleb(&c);
    if (c.bad || ra != NMT_CFI_RA)
        return NMT_CFI_UNSUPPORTED;
    p->fde_enc = NMT_PE_ABSPTR;
    *z = aug_len > 0 && aug[0] == 'z';
    if (aug_len > 0 && !*z)
        return NMT_CFI_UNSUPPORTED; /* an old augmentation ("eh") with unknown data */
    if (*z) {
        uint64_t n = nmt_cfi_uleb(&c);
        struct nmt_cfi_cur d = {c.p, c.p, 0};
        nmt_cfi_skip(&c, n);
        d.end = c.p;
        for (size_t i = 1; i < aug_len && !d.bad; i++) {
            if (aug[i] == 'R') {
                p->fde_enc = (uint8_t)nmt_cfi_rd(&d, 1);
            } else if (aug[i] == 'P') {
                uint8_t e = (uint8_t)nmt_cfi_rd(&d, 1);
                nmt_cfi_ptr(&d, e & 0x0f, 0); /* skipped: only its size matters */
            } else if (aug[i] == 'L') {
                nmt_cfi_rd(&d, 1);
            } else {
                return NMT_CFI_UNSUPPORTED; /* 'S' (a signal frame) or unknown */
            }
        }
        if (d.bad)
            return NMT_CFI_UNSUPPORTED;
    }
    if (c.bad)
        return NMT_CFI_UNSUPPORTED;
    p->cie_insn = c.p;
    p->cie_end = c.end;
    return NMT_CFI_OK;
}

/* Reads the FDE at fde and its CIE into p; NMT_CFI_NOFDE when it does not
 * cover ip. */
static enum nmt_cfi_result read_fde(const struct nmt_cfi_obj *o, uintptr_t fde, uintptr_t ip,
                                    struct nmt_cfi_prog *p)
{
    if (fde < o->eh_lo || fde >= o->eh_hi)
        return NMT_CFI_UNSUPPORTED;
    struct nmt_cfi_cur c = {(const uint8_t *)fde, (const uint8_t *)o->eh_hi, 0};
    uint64_t len = nmt_cfi_rd(&c, 4);
    if (c.bad || len == 0 || len == 0xffffffffu || len > (uint64_t)(c.end - c.p))
        return NMT_CFI_UNSUPPORTED;
    c.end = c.p + len;
    uintptr_t at = (uintptr_t)c.p;
    uint32_t back = (uint32_t)nmt_cfi_rd(&c, 4);
    if (c.bad || back == 0 || back > at - o->eh_lo)
        return NMT_CFI_UNSUPPORTED;
    int z;
    enum nmt_cfi_result r = read_cie(o, at - back, p, &z);
    if (r != NMT_CFI_OK)
        return r;
    if (p->fde_enc & NMT_PE_INDIRECT)
        return NMT_CFI_UNSUPPORTED;
    p->pc_begin = nmt_cfi_ptr(&c, p->fde_enc, 0);
    uintptr_t range = nmt_cfi_ptr(&c, p->fde_enc & 0x0f, 0);
    if (z)
        nmt_cfi_skip(&c, nmt_cfi_uleb(&c));
    if (c.bad)
        return NMT_CFI_UNSUPPORTED;
    if (ip < p->pc_begin || ip - p->pc_begin >= range)
        return NMT_CFI_NOFDE;
    p->fde_insn = c.p;
    p->fde_end = c.end;
    return NMT_CFI_OK;
}

NMT_HIDDEN enum nmt_cfi_result nmt__cfi_eval(const struct nmt_cfi_obj *o, uintptr_t ip,
                                             struct nmt_cfi_rule *out)
{
    if (o->status != NMT_CFI_OK)
        return (enum nmt_cfi_result)o->status;
    uintptr_t fde = search(o, ip);
    if (fde == 0)
        return NMT_CFI_NOFDE;
    struct nmt_cfi_prog p;
    enum nmt_cfi_result r = read_fde(o, fde, ip, &p);
    if (r != NMT_CFI_OK)
        return r;
    return nmt__cfi_run(&p, ip, out);
}
