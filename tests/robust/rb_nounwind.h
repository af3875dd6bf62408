/* rb_nounwind.h: code built without unwind tables (rb_nounwind.c). */
#ifndef RB_NOUNWIND_H
#define RB_NOUNWIND_H

/* n malloc/free pairs made from a frame without unwind tables; a checksum. */
unsigned long rb_nounwind_churn(int n);

#endif
