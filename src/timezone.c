/* Time zone mapping with ICU (ucal_getTimeZoneIDForWindowsID, CLDR's windowsZones data). */
#include <string.h>

#include <apr_strings.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "timezone.h"

#define TZ_MAX 128

/* UTF-8 <-> UTF-16 for the plain ASCII names involved; anything else is refused. */
static int to_uchars(const char *s, UChar *out, int32_t cap)
{
    int32_t i;

    for (i = 0; s[i]; i++) {
        if (i >= cap - 1 || (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
            return -1;
        }
        out[i] = (UChar)s[i];
    }
    out[i] = 0;
    return i;
}

static const char *from_uchars(apr_pool_t *p, const UChar *u, int32_t len)
{
    char *out = apr_palloc(p, len + 1);
    int32_t i;

    for (i = 0; i < len; i++) {
        if (u[i] > 0x7e || u[i] < 0x20) {
            return "";
        }
        out[i] = (char)u[i];
    }
    out[len] = '\0';
    return out;
}

const char *msoauth_timezone_iana(apr_pool_t *p, const char *name)
{
    UChar in[TZ_MAX], out[TZ_MAX];
    UErrorCode status = U_ZERO_ERROR;
    UBool system = 0;
    int32_t n, len;

    if (!name || !*name || (n = to_uchars(name, in, TZ_MAX)) < 0) {
        return "";
    }
    if (strchr(name, '/')) {
        /* already IANA (Outlook lets users pick those): keep it if ICU knows it */
        /* ICU's canonical forms are old spellings (Asia/Calcutta for Asia/Kolkata): keep the
         * name as given once ICU knows it */
        len = ucal_getCanonicalTimeZoneID(in, n, out, TZ_MAX, &system, &status);
        return U_SUCCESS(status) && system && len > 0 ? apr_pstrdup(p, name) : "";
    }
    len = ucal_getTimeZoneIDForWindowsID(in, n, NULL, out, TZ_MAX, &status);
    return U_SUCCESS(status) && len > 0 ? from_uchars(p, out, len) : "";
}
