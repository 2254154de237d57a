#ifndef MUFLOW_VERSION_TEXT_H
#define MUFLOW_VERSION_TEXT_H

/* "MAJOR.MINOR.PATCH", spelled by the preprocessor from muflow.h's MF_VERSION_*
   macros, so that the library's version is written down once. Not exported. */
const char *muflow_version_text(void);

#endif
