// Facts stamped into the binary by `make` (scripts/buildinfo.sh). Only MeshCLIKit's BuildInfo.swift imports this.
#ifndef CBUILDINFO_H
#define CBUILDINFO_H

// The git commit the binary was built from; "unknown" in a plain `swift build`.
const char *CBuildInfo_commit(void);

#endif
