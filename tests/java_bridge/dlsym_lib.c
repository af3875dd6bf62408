/* dlsym_lib.c: a library the dlsym test program links against; its
 * nmtt_who is what RTLD_NEXT finds after the preloaded shim. */
const char *nmtt_who(void)
{
    return "lib";
}
