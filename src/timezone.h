/* Windows time zone names (what Microsoft Graph's mailboxSettings returns) to IANA names (what
 * PHP's date_default_timezone_set() accepts), through ICU's CLDR mapping. Pure. */
#ifndef MSOAUTH_TIMEZONE_H
#define MSOAUTH_TIMEZONE_H

#include <apr_pools.h>

/* "W. Europe Standard Time" -> "Europe/Berlin"; an IANA name is returned in its canonical form;
 * "" for anything ICU does not know. */
const char *msoauth_timezone_iana(apr_pool_t *p, const char *name);

#endif
