/* page — the chat page (page.html) inside the binary: the assembler reads
 * the file in at build time (.incbin), so the page stays one plain HTML
 * file with no generated C beside it. */
__asm__(".section .rodata\n"
        ".global server_page\n"
        ".type server_page, %object\n"
        "server_page:\n"
        ".incbin \"src/server/page.html\"\n"
        ".byte 0\n"
        ".size server_page, . - server_page\n"
        ".previous\n");
