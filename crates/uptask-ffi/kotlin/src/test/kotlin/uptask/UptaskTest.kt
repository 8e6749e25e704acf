package uptask

import java.io.File
import java.net.ServerSocket
import java.net.SocketTimeoutException
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException
import java.util.logging.Handler
import java.util.logging.LogRecord
import java.util.logging.Logger
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir

/** The Kotlin layer as an app uses it, against real servers on loopback. */
class UptaskTest {
    @TempDir
    lateinit var tmp: File

    @Test
    fun `multipart progress, headers and result come in order`() = busboy().use { peer ->
        val (file, digest) = makeFile(tmp, "photo.jpg", 3 shl 20)
        val order = CopyOnWriteArrayList<String>()
        val seen = CopyOnWriteArrayList<Progress>()
        val task = uploadFile(
            "${peer.url}/upload", file.path, "file",
            header = mapOf("X-Trace" to "kt"), formData = mapOf("album" to "trip", "n" to "7"),
        )
        val chained = task.progress { seen.add(it); order.add("progress") }
            .headersReceived { order.add("headers ${it.header["content-type"]}") }
        assertTrue(chained === task)
        val done = task.wait(30_000)
        order.add("result")
        assertEquals("uploadFile:ok", done.errMsg)
        assertEquals(200, done.statusCode)
        val reply = JSONObject(done.data)
        assertEquals(digest, reply.getJSONArray("files").getJSONObject(0).getString("sha256"), "busboy read other bytes")
        val fields = reply.getJSONArray("fields").map { (it as JSONObject).let { f -> f.getString("name") to f.getString("value") } }
        assertEquals(listOf("album" to "trip", "n" to "7"), fields)
        assertEquals("kt", reply.getJSONObject("headers").getString("x-trace"))
        val sent = seen.map { it.totalBytesSent }
        assertEquals(sent.sorted(), sent, "progress went back")
        val last = seen.last()
        assertEquals(100, last.progress)
        assertEquals(last.totalBytesExpectedToSend, last.totalBytesSent)
        assertEquals(reply.getLong("bytesReceived"), last.totalBytesSent, "progress is not the bytes the server read")
        val heads = order.filter { it.startsWith("headers") }
        assertEquals(listOf("headers application/json"), heads)
        assertTrue(order.indexOf(heads[0]) < order.indexOf("result"), "$order")
        assertEquals("application/json", done.header["content-type"])
        task.close()
    }

    @Test
    fun `an early 413 is the result, not an error`() = serve(tmp).use { server ->
        val (file, _) = makeFile(tmp, "big.bin", 16 shl 20)
        val done = uploadFile("${server.url}/upload", file.path, "file").wait(30_000)
        assertEquals(413, done.statusCode, done.data)
    }

    @Test
    fun `a missing file fails before any byte goes out`(): Unit = ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()).use { listener ->
        listener.soTimeout = 500
        val task = uploadFile("http://127.0.0.1:${listener.localPort}/upload", File(tmp, "nope.bin").path, "file")
        val failed = assertThrows<UploadException> { task.wait(10_000) }
        assertEquals("invalidInput", failed.kind)
        assertTrue(failed.errMsg.startsWith("uploadFile:fail file not found"), failed.errMsg)
        assertThrows<SocketTimeoutException>("nobody connected") { listener.accept() }
    }

    @Test
    fun `bad options fail as upload errors`() {
        val (file, _) = makeFile(tmp, "a.bin", 10)
        val failed = assertThrows<UploadException> {
            uploadFile("http://127.0.0.1:9/x", file.path, "file", protocol = "ftp").wait(5_000)
        }
        assertEquals("invalidInput", failed.kind)
        assertTrue("ftp" in failed.errMsg, failed.errMsg)
        assertThrows<IllegalArgumentException> {
            uploadFile("http://127.0.0.1:9/x", file.path, "file", timeoutMs = -1)
        }
        val notS3 = assertThrows<UploadException> {
            uploadFile("http://127.0.0.1:9/x", file.path, "file", partSize = 8L shl 20).wait(5_000)
        }
        assertTrue("part_size and concurrency are for protocol" in notS3.errMsg, notS3.errMsg)
        assertThrows<IllegalArgumentException> {
            uploadFile("http://127.0.0.1:9/s3", file.path, "file", protocol = "s3", concurrency = 0)
        }
    }

    @Test
    fun `abort from another thread mid-upload`() = busboy().use { peer ->
        val (file, _) = makeFile(tmp, "slow.bin", 8 shl 20)
        val task = uploadFile("${peer.url}/upload?slow_ms=20", file.path, "file")
        val started = CountDownLatch(1)
        task.onProgressUpdate { if (it.totalBytesSent > 0) started.countDown() }
        assertTrue(started.await(20, TimeUnit.SECONDS), "no progress within 20 s")
        var aborted: Boolean? = null
        val aborter = Thread { aborted = task.abort() }
        aborter.start()
        aborter.join(10_000)
        assertEquals(true, aborted)
        val failed = assertThrows<UploadException> { task.wait(10_000) }
        assertEquals("uploadFile:fail abort", failed.errMsg)
        assertEquals("aborted", failed.kind)
        assertFalse(task.abort(), "abort after the end says so")
    }

    @Test
    fun `await in a coroutine, and cancelling it aborts the upload`() = busboy().use { peer ->
        val (file, digest) = makeFile(tmp, "a.bin", 1 shl 20)
        // Big enough to outlast the kernel's socket buffers against a server that reads slowly.
        val (big, _) = makeFile(tmp, "big.bin", 16 shl 20)
        runBlocking {
            withTimeout(60_000) {
                val done = uploadFile("${peer.url}/upload", file.path, "file").await()
                assertEquals(digest, JSONObject(done.data).getJSONArray("files").getJSONObject(0).getString("sha256"))

                val slow = uploadFile("${peer.url}/upload?slow_ms=20", big.path, "file")
                val moving = CompletableDeferred<Unit>()
                slow.onProgressUpdate { moving.complete(Unit) }
                val waiting = async(Dispatchers.Default) { runCatching { slow.await() } }
                moving.await()
                assertTrue(slow.abort())
                val failure = waiting.await().exceptionOrNull()
                assertTrue(failure is UploadException && failure.kind == "aborted", "$failure")

                val third = uploadFile("${peer.url}/upload?slow_ms=20", big.path, "file")
                val pending = async(Dispatchers.Default) { third.await() }
                delay(200)
                assertFalse(third.isFinished, "the upload ended before it could be cancelled")
                pending.cancel()
                assertThrows<CancellationException> { runBlocking { pending.await() } }
                assertEquals("aborted", assertThrows<UploadException> { third.wait(10_000) }.kind)
            }
        }
    }

    @Test
    fun `the progress flow ends with 100, and fails when the upload does`() = busboy().use { peer ->
        val (file, _) = makeFile(tmp, "a.bin", 4 shl 20)
        runBlocking {
            withTimeout(60_000) {
                val task = uploadFile("${peer.url}/upload?slow_ms=2", file.path, "file")
                val seen = task.progressFlow().toList()
                assertTrue(seen.isNotEmpty())
                assertEquals(100, seen.last().progress)
                assertEquals(seen.map { it.totalBytesSent }.sorted(), seen.map { it.totalBytesSent })

                val (big, _) = makeFile(tmp, "big.bin", 16 shl 20)
                val slow = uploadFile("${peer.url}/upload?slow_ms=20", big.path, "file")
                slow.onProgressUpdate { slow.abort() }
                val failed = runCatching { slow.progressFlow().toList() }.exceptionOrNull()
                assertTrue(failed is UploadException && failed.kind == "aborted", "$failed")
            }
        }
    }

    @Test
    fun `a listener that throws does not break the upload`() = busboy().use { peer ->
        val (file, digest) = makeFile(tmp, "a.bin", 2 shl 20)
        val logged = CopyOnWriteArrayList<LogRecord>()
        val handler = object : Handler() {
            override fun publish(record: LogRecord) { logged.add(record) }
            override fun flush() {}
            override fun close() {}
        }
        val log = Logger.getLogger("uptask")
        log.addHandler(handler)
        try {
            val calls = CopyOnWriteArrayList<Int>()
            val task = uploadFile("${peer.url}/upload?slow_ms=1", file.path, "file")
            task.onProgressUpdate { throw IllegalStateException("listener bug") }
            task.onProgressUpdate { calls.add(it.progress) }
            val done = task.wait(30_000)
            assertEquals(digest, JSONObject(done.data).getJSONArray("files").getJSONObject(0).getString("sha256"))
            assertEquals(100, calls.last())
            assertTrue(logged.any { it.thrown?.message == "listener bug" }, "the listener's exception was not logged")
        } finally {
            log.removeHandler(handler)
        }
    }

    @Test
    fun `off removes one listener or all`() = busboy().use { peer ->
        val (file, _) = makeFile(tmp, "a.bin", 8 shl 20)
        val task = uploadFile("${peer.url}/upload?slow_ms=20", file.path, "file")
        val kept = CopyOnWriteArrayList<Progress>()
        val dropped = CopyOnWriteArrayList<Any>()
        val gone = task.onProgressUpdate { dropped.add(it) }
        task.onProgressUpdate { kept.add(it) }
        assertTrue(task.offProgressUpdate(gone))
        assertFalse(task.offProgressUpdate(gone))
        val before = dropped.size // what it had before it was removed
        val h = task.onHeadersReceived { dropped.add(it) }
        assertTrue(h > 0)
        assertTrue(task.offHeadersReceived())
        task.wait(30_000)
        assertEquals(100, kept.last().progress)
        assertEquals(before, dropped.size, "a removed listener was called: $dropped")
    }

    @Test
    fun `a listener added after the end gets what it missed`() = busboy().use { peer ->
        val (file, _) = makeFile(tmp, "small.bin", 64 shl 10)
        val task = uploadFile("${peer.url}/upload", file.path, "file")
        val done = task.wait(30_000)
        val progress = CopyOnWriteArrayList<Int>()
        val heads = CopyOnWriteArrayList<String?>()
        task.progress { progress.add(it.progress) }.headersReceived { heads.add(it.header["content-type"]) }
        assertEquals(listOf(100), progress, "only the latest update, once")
        assertEquals(listOf(done.header["content-type"]), heads)
        runBlocking { withTimeout(10_000) { assertEquals(listOf(100), task.progressFlow().toList().map { it.progress }) } }
    }

    @Test
    fun `wait with a timeout leaves the upload running`() = busboy().use { peer ->
        val (file, _) = makeFile(tmp, "a.bin", 8 shl 20)
        val task = uploadFile("${peer.url}/upload?slow_ms=20", file.path, "file")
        assertThrows<TimeoutException> { task.wait(50) }
        assertEquals(200, task.wait(60_000).statusCode)
    }

    @Test
    fun `tus resumes after the JVM is SIGKILLed`() {
        val store = File(tmp, "tus")
        tusPeer(store).use { peer ->
            val (file, digest) = makeFile(tmp, "video.bin", 24 shl 20)
            val resume = File(tmp, "resume").path
            val java = File(System.getProperty("java.home"), "bin/java").path
            val child = ProcessBuilder(
                java, "-cp", System.getProperty("java.class.path"),
                "-Djna.library.path=${System.getProperty("jna.library.path")}",
                "uptask.KillAt30Kt", "${peer.url}/files/", file.path, resume,
            ).inheritIO().start()
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the child JVM did not end")
            assertEquals(128 + 9, child.exitValue(), "the child was not SIGKILLed")

            val notices = CopyOnWriteArrayList<UploadNotice>()
            val task = uploadFile("${peer.url}/files/", file.path, "file", protocol = "tus", resumeStore = resume)
            task.onNotice { notices.add(it) }
            val done = task.wait(60_000)
            assertEquals(204, done.statusCode)
            assertTrue(done.uploadUrl!!.startsWith(peer.url), done.uploadUrl)
            val resumed = notices.firstOrNull { it.kind == "resumed" }
            assertNotNull(resumed, "$notices")
            assertTrue(resumed!!.offset!! in 1 until (24L shl 20), "$notices")
            assertFalse(notices.any { it.kind == "uploadCreated" }, "a new upload was created")
            val stored = store.listFiles()!!.filter { !it.name.endsWith(".json") }
            assertEquals(1, stored.size, "$stored")
            assertEquals(digest, sha256(stored[0].readBytes()), "the server holds other bytes")
        }
    }
}
