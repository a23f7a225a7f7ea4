# Turns a text file into a C source defining `const char NAME[]` (its bytes, NUL-terminated) and
# `const size_t NAME_len`: cmake -DIN=file -DOUT=file.c -DNAME=symbol -P cmake/embed.cmake.
# Used for the status page (engine/status_page.html), so the page is edited as HTML.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
       bytes "${bytes}")
file(WRITE "${OUT}"
     "/* Generated from ${IN} by cmake/embed.cmake: do not edit. */\n"
     "#include <stddef.h>\n"
     "extern const char ${NAME}[];\nextern const size_t ${NAME}_len;\n"
     "const char ${NAME}[] = {\n${bytes}0};\n"
     "const size_t ${NAME}_len = sizeof ${NAME} - 1;\n")
