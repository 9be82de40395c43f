package image

// The test objects are committed, so tests do not need clang;
// `go generate ./bpfman-agent/image` rebuilds them.
//go:generate sh -c "cd testdata && clang -O2 -g -fdebug-prefix-map=$PWD/testdata=. -target bpfel -I/usr/include/$(uname -m)-linux-gnu -c counter.c -o counter.o"
//go:generate sh -c "cd testdata && clang -O2 -g -fdebug-prefix-map=$PWD/testdata=. -target bpfeb -I/usr/include/$(uname -m)-linux-gnu -c counter.c -o counter_bpfeb.o"
//go:generate sh -c "cd testdata && clang -O2 -target x86_64-linux-gnu -c notbpf.c -o notbpf.o"
