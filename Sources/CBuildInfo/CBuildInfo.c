#include "CBuildInfo.h"

// `make` writes the commit here; a plain `swift build` finds no file and says "unknown".
#if __has_include("../../.build/buildinfo/meshctl_buildinfo.h")
#include "../../.build/buildinfo/meshctl_buildinfo.h"
#endif
#ifndef MESHCTL_GIT_COMMIT
#define MESHCTL_GIT_COMMIT "unknown"
#endif

const char *CBuildInfo_commit(void) {
    return MESHCTL_GIT_COMMIT;
}
