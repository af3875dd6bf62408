/*
 * nmc_env.h: the NMTRACE_* names nmtrace knows, so the recorder and the
 * launcher can say when the environment has one it does not (a typo that
 * would otherwise be ignored in silence). No allocation, no I/O.
 */
#ifndef NMC_ENV_H
#define NMC_ENV_H

#include <stddef.h>

/* For an environment entry "NAME=value": 1 when NAME starts with NMTRACE_
 * and is not in nmc_vars (nmc_vars.h), with msg set to one line (no newline)
 * naming it, the known names and the nearest of them; else 0. */
int nmc_env_unknown(const char *entry, char *msg, size_t size);

#endif
