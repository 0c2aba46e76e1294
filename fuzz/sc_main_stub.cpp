// libsystemc.so refers to sc_main; the harnesses have libFuzzer's main and never start SystemC.
extern "C" int sc_main(int, char*[]) { return 0; }
