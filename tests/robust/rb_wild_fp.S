/*
 * rb_wild_fp.S: rb_wild_fp_call(fn, arg, fp) calls fn(arg) with the frame
 * pointer register set to fp, from a frame with no unwind tables (no CFI
 * directives here, so no .eh_frame entry). An unwinder that reaches this
 * frame has only the frame chain to follow, and it leads to fp: memory
 * outside the stack.
 */
#if defined(__x86_64__)
    .text
    .globl rb_wild_fp_call
    .type rb_wild_fp_call, @function
rb_wild_fp_call:
    push %rbp
    push %rbx
    mov %rdi, %rbx
    mov %rsi, %rdi
    mov %rdx, %rbp
    sub $8, %rsp            /* the call below on a 16-byte boundary */
    call *%rbx
    add $8, %rsp
    pop %rbx
    pop %rbp
    ret
    .size rb_wild_fp_call, .-rb_wild_fp_call
#endif
    .section .note.GNU-stack,"",@progbits
