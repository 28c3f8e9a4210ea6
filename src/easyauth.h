/* Azure App Service "Easy Auth" compatibility: the X-MS-CLIENT-PRINCIPAL header an app written
 * for App Service reads. Pure. */
#ifndef MSOAUTH_EASYAUTH_H
#define MSOAUTH_EASYAUTH_H

#include <apr_pools.h>

#include "identity.h"

#define MSOAUTH_EASYAUTH_NAME_TYP "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
#define MSOAUTH_EASYAUTH_ROLE_TYP "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"

/* Standard (padded) base64 of {"auth_typ":"aad","claims":[{"typ","val"}...],"name_typ","role_typ"}:
 * every claim (arrays one entry per element), plus name_typ = preferred_username and one
 * role_typ entry per role. */
const char *msoauth_easyauth_principal(apr_pool_t *p, const msoauth_identity_t *id);

#endif
