/* oxbpf shim: oxbpf.h (included automatically by `oxbpf build`) declares everything
 * <bpf/bpf_helper_defs.h> provides in libbpf. */
#include "../oxbpf.h"
