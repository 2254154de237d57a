/* Compiles muflow.h as plain C inside the package build; the Swift ABI layer
   imports the same header through this module. */
#include "muflow.h"
