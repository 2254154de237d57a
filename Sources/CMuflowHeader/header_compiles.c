/* Compiles both headers as plain C inside the package build; the Swift ABI layer
   imports the same headers through this module, so `@c @implementation` checks every
   entry point of the stable tier (muflow.h) and of the binding tier (muflow_binding.h). */
#include "muflow.h"
#include "muflow_binding.h"
