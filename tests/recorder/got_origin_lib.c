/* got_origin_lib.c: the library prog_got_origin loads by a $ORIGIN name;
 * it lies next to the program, not next to the dlopen wrapper. */
int got_origin_value(void)
{
    return 42;
}
