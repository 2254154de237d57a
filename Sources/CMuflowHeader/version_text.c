#include "muflow.h"
#include "muflow_version_text.h"

#define MUFLOW_SPELL_(x) #x
#define MUFLOW_SPELL(x) MUFLOW_SPELL_(x)

const char *muflow_version_text(void) {
    return MUFLOW_SPELL(MF_VERSION_MAJOR) "." MUFLOW_SPELL(MF_VERSION_MINOR) "." MUFLOW_SPELL(MF_VERSION_PATCH);
}
