//! eBPF ELF objects: programs, maps, global data, BTF and relocations (on aya-obj)
