/* See assert.h: for `cargo check` only; an iPhone, not the simulator. */
#define TARGET_OS_IPHONE 1
#define TARGET_OS_IOS 1
#define TARGET_OS_OSX 0
#define TARGET_OS_MAC 1
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_TV 0
