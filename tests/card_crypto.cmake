# IoT SAFE crypto commands: sessions, sign/verify, key pairs, DH, PRF/HKDF,
# random, plus the TLV and SHA-256-resume helpers behind them.

# Shared test card (tests/support/card_fixture.h); other card tests may link it.
add_library(st_card_fixture STATIC ${CMAKE_CURRENT_SOURCE_DIR}/support/card_fixture.c)
target_include_directories(st_card_fixture PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/support)
target_link_libraries(st_card_fixture PUBLIC simtrust_card PkgConfig::CMOCKA)

foreach(t crypto tlv session sign verify keys dh kdf random)
  st_add_unit_test(test_card_${t} ${CMAKE_CURRENT_SOURCE_DIR}/card/test_${t}.c
                   LIBS st_card_fixture simtrust_card LABELS card)
endforeach()
