// A host (non-BPF) object: the image store must refuse it as NotBPF.
int answer(void) { return 42; }
