/* The few libc declarations ring's C needs, for `cargo check` of the mobile targets on a
 * machine without the Android NDK or an iOS SDK (scripts/check-mobile.sh). Nothing compiled
 * against them is linked; an app's own build uses its NDK or SDK. */
#define assert(e) ((void)0)
#define static_assert _Static_assert
