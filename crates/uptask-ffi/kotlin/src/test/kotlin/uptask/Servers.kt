package uptask

import java.io.File
import java.security.MessageDigest
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.random.Random

/** The repository's root (set by the build). */
val root: File = File(System.getProperty("uptask.root") ?: error("uptask.root is not set")).canonicalFile

val peers = File(root, "peers")

/** The uptask CLI: UPTASK_BIN, or the workspace's debug build. */
fun uptaskBin(): String {
    val path = System.getenv("UPTASK_BIN") ?: File(root, "target/debug/uptask").path
    check(File(path).canExecute()) { "$path is missing: build it with `cargo build -p uptask-cli` or set UPTASK_BIN" }
    return path
}

/**
 * A process that names where it listens on stdout or stderr (the first match of `pattern`,
 * whose group 1 is the port); both pipes are drained for its whole life. Killed on [close].
 */
class Server(argv: List<String>, pattern: String, dir: File? = null) : AutoCloseable {
    private val process: Process = ProcessBuilder(argv).directory(dir).start()
    val url: String

    init {
        val lines = LinkedBlockingQueue<String>()
        for (stream in listOf(process.inputStream, process.errorStream)) {
            Thread {
                stream.bufferedReader().forEachLine { lines.put(it) }
            }.apply { isDaemon = true }.start()
        }
        val regex = Regex(pattern)
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        var found: String? = null
        while (found == null) {
            val left = deadline - System.nanoTime()
            if (left <= 0) {
                process.destroyForcibly()
                error("${argv[0]} did not say where it listens within 30 s")
            }
            val line = lines.poll(left, TimeUnit.NANOSECONDS) ?: continue
            found = regex.find(line)?.groupValues?.get(1)
        }
        url = "http://127.0.0.1:$found"
    }

    override fun close() {
        process.destroyForcibly()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}

fun requirePeer(module: String) =
    check(File(peers, "node_modules/$module").isDirectory) {
        "$module is not installed in peers/ (run `npm install` there)"
    }

/** busboy behind peers/form-echo.mjs: echoes what it parsed as JSON. */
fun busboy(): Server {
    requirePeer("busboy")
    return Server(listOf("node", "form-echo.mjs", "0"), "listening on (\\d+)", peers)
}

/** `uptask serve` storing under `dir`, with at most 4 MiB per request. */
fun serve(dir: File): Server = Server(
    listOf(uptaskBin(), "serve", "--addr", "127.0.0.1:0", "--dir", File(dir, "store").path, "--max-size", "4MiB"),
    "http://127\\.0\\.0\\.1:(\\d+)",
)

/** @tus/server storing under `store`; its URL is the creation URL. */
fun tusPeer(store: File): Server {
    requirePeer("@tus/server")
    store.mkdirs()
    return Server(listOf("node", "tus-server.mjs", "0", store.path), "http://127\\.0\\.0\\.1:(\\d+)/files", peers)
}

/** A file of `size` random bytes, and its sha256. */
fun makeFile(dir: File, name: String, size: Int): Pair<File, String> {
    val data = Random.nextBytes(size)
    val file = File(dir, name)
    file.writeBytes(data)
    return file to sha256(data)
}

fun sha256(data: ByteArray): String =
    MessageDigest.getInstance("SHA-256").digest(data).joinToString("") { "%02x".format(it) }
