/*
 * nmt_jvm_dlsym_stub.S: libnmtrace.so's exported dlsym.
 *
 * glibc's dlsym resolves RTLD_NEXT (and, in a dlmopen namespace,
 * RTLD_DEFAULT) relative to the object its return address lies in. A C
 * wrapper would be the caller and every RTLD_NEXT lookup would mean "next
 * after libnmtrace.so" instead of "next after the caller". This stub asks
 * nmt__jvm_dlsym_route (nmt_jvm_dlsym.c) where to go, restores the two
 * arguments and jumps there with the caller's return address untouched: to
 * the real dlsym for every lookup but the one the JVM bridge takes over.
 * Written in assembly so that no optimisation level or sanitizer changes it
 * into a call.
 */
#if defined(__x86_64__)

    .text
    .globl  dlsym
    .type   dlsym, @function
    .p2align 4
dlsym:
    .cfi_startproc
#if defined(__CET__)
    endbr64
#endif
    pushq   %rdi
    .cfi_adjust_cfa_offset 8
    pushq   %rsi
    .cfi_adjust_cfa_offset 8
    subq    $8, %rsp                /* the call below needs a 16-byte aligned stack */
    .cfi_adjust_cfa_offset 8
    call    nmt__jvm_dlsym_route@PLT
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %rsi
    .cfi_adjust_cfa_offset -8
    popq    %rdi
    .cfi_adjust_cfa_offset -8
    jmp     *%rax
    .cfi_endproc
    .size   dlsym, .-dlsym

#if defined(__CET__)
    /* Keeps the library marked for IBT/shadow stacks when the C files are
     * (-fcf-protection): the stub starts with endbr64 and its call returns. */
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4                       /* name size */
    .long   16                      /* descriptor size */
    .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"
    .long   0xc0000002              /* GNU_PROPERTY_X86_FEATURE_1_AND */
    .long   4
    .long   __CET__                 /* 1 IBT, 2 SHSTK */
    .p2align 3
#endif

#elif defined(__aarch64__)

    .text
    .globl  dlsym
    .type   dlsym, %function
    .p2align 2
dlsym:
    .cfi_startproc
#if defined(__ARM_FEATURE_BTI_DEFAULT)
    hint    34                      /* bti c */
#endif
    stp     x29, x30, [sp, #-32]!
    .cfi_def_cfa_offset 32
    .cfi_offset 29, -32
    .cfi_offset 30, -24
    mov     x29, sp
    stp     x0, x1, [sp, #16]
    bl      nmt__jvm_dlsym_route
    mov     x16, x0
    ldp     x0, x1, [sp, #16]
    ldp     x29, x30, [sp], #32     /* x30: the caller's return address again */
    .cfi_def_cfa_offset 0
    .cfi_restore 29
    .cfi_restore 30
    br      x16
    .cfi_endproc
    .size   dlsym, .-dlsym

#endif

    .section .note.GNU-stack, "", %progbits
