/**
 * uptask for Kotlin (JVM and Android): Taro's `UploadTask` over uptask's Rust engine, through
 * the bindings uniffi generates (package `uptask.ffi`). This layer gives them Kotlin's types
 * (`Long`, `Map`, lambdas), `suspend fun await()`, a [Flow] of progress, and listeners that
 * cannot break an upload.
 *
 * ```kotlin
 * val task = uploadFile("http://127.0.0.1:8080/upload", "/sdcard/photo.jpg", "file",
 *     header = mapOf("Authorization" to "Bearer t0k3n"))
 *     .progress { println("${it.progress}% ${it.totalBytesSent}/${it.totalBytesExpectedToSend}") }
 * val done = task.await()   // or task.wait(), blocking; task.abort() from anywhere
 * ```
 */
package uptask

import java.util.concurrent.TimeoutException
import java.util.logging.Level
import java.util.logging.Logger
import kotlin.coroutines.resume
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.suspendCancellableCoroutine
import uptask.ffi.HeadersListener
import uptask.ffi.NoticeListener
import uptask.ffi.ProgressListener
import uptask.ffi.SettledListener
import uptask.ffi.UploadFailure
import uptask.ffi.UploadRequest

/** Where listeners that throw are reported; the upload goes on. */
private val log: Logger = Logger.getLogger("uptask")

/** One progress report, as Taro's `onProgressUpdate` gives it (and `speed`, `eta` once known). */
data class Progress(
    /** Whole percent sent, 0 to 100. */
    val progress: Int,
    /** Body bytes sent so far. */
    val totalBytesSent: Long,
    /** The whole body's length. */
    val totalBytesExpectedToSend: Long,
    /** Bytes per second over the last few seconds. */
    val speed: Long?,
    /** Seconds left at that speed. */
    val eta: Long?,
)

/** The response's headers (names lower-cased), as Taro's `onHeadersReceived` gives them. */
data class HeadersReceived(val header: Map<String, String>)

/**
 * Something the upload did: `kind` is "uploadCreated" (with `url`), "resumed" (with `offset`),
 * "retrying" (with `attempt`, `delayMs`, `message`) or "dequeued".
 */
data class UploadNotice(
    val kind: String,
    val url: String?,
    val offset: Long?,
    val attempt: Int?,
    val delayMs: Long?,
    val message: String?,
)

/** The server's answer: any status, a 4xx or 5xx too. */
data class UploadSuccess(
    /** "uploadFile:ok". */
    val errMsg: String,
    val statusCode: Int,
    val header: Map<String, String>,
    val data: String,
    /** Where the upload lives (tus, s3), when there is such a place. */
    val uploadUrl: String?,
)

/**
 * The upload did not get an answer: `errMsg` as Taro words it ("uploadFile:fail abort",
 * "uploadFile:fail timeout", ...), `kind` one of "aborted", "timeout", "connect", "tls", "io",
 * "invalidInput", "protocol", "internal".
 */
class UploadException(val errMsg: String, val kind: String) : Exception(errMsg)

/**
 * Starts uploading `filePath` at once and returns its task. Options it cannot take give a task
 * that has already failed (its [UploadTask.wait] throws why) before any byte goes out.
 *
 * @param protocol "multipart" (one POST), "tus" (resumable) or "s3" (straight to a bucket
 *   through the signer at `url`, e.g. `https://app.example/s3`; `header` goes to it only).
 * @param timeoutMs for the whole upload; default 60000.
 * @param resumeStore for "tus" and "s3": a directory where the upload is remembered, so that a
 *   process killed mid-way continues where the server's bytes end.
 * @param partSize for "s3": bytes per part (at least 5 MiB; default 8 MiB).
 * @param concurrency for "s3": parts sent at once (default 4).
 */
fun uploadFile(
    url: String,
    filePath: String,
    name: String,
    header: Map<String, String> = emptyMap(),
    formData: Map<String, String> = emptyMap(),
    fileName: String? = null,
    timeoutMs: Long? = null,
    protocol: String = "multipart",
    resumeStore: String? = null,
    partSize: Long? = null,
    concurrency: Int? = null,
): UploadTask {
    require(timeoutMs == null || timeoutMs >= 0) { "timeoutMs must not be negative" }
    require(partSize == null || partSize > 0) { "partSize must be positive" }
    require(concurrency == null || concurrency > 0) { "concurrency must be positive" }
    val request = UploadRequest(
        url = url,
        filePath = filePath,
        name = name,
        header = header.map { (k, v) -> uptask.ffi.Pair(k, v) },
        formData = formData.map { (k, v) -> uptask.ffi.Pair(k, v) },
        fileName = fileName,
        timeoutMs = timeoutMs?.toULong(),
        protocol = protocol,
        resumeStore = resumeStore,
        partSize = partSize?.toULong(),
        concurrency = concurrency?.toUInt(),
    )
    return UploadTask(uptask.ffi.uploadFile(request))
}

/** Calls `listener`, reporting what it throws instead of letting it reach the engine. */
private inline fun guarded(what: String, listener: () -> Unit) {
    try {
        listener()
    } catch (e: Throwable) {
        log.log(Level.WARNING, "an uptask $what listener threw; the upload goes on", e)
    }
}

/**
 * A running upload. Listeners run on uptask's event thread, one at a time and in order; one
 * that throws is logged on the `uptask` logger and the upload goes on. Keep them short (hand
 * work to a coroutine or your UI thread). [close] frees the native task once you are done.
 */
class UploadTask internal constructor(private val native: uptask.ffi.UploadTask) : AutoCloseable {
    /** Stops the upload at any stage; `false` when it had already ended. */
    fun abort(): Boolean = native.abort()

    /** Adds a progress listener; the id removes it. */
    fun onProgressUpdate(listener: (Progress) -> Unit): Long =
        native.onProgressUpdate(object : ProgressListener {
            override fun onProgress(update: uptask.ffi.Progress) = guarded("progress") {
                listener(update.kotlin())
            }
        }).toLong()

    /** Removes progress listener `id`, or every one without it. */
    fun offProgressUpdate(id: Long? = null): Boolean = native.offProgressUpdate(id?.toULong())

    /** Adds a listener for the response's headers (once, before the outcome); the id removes it. */
    fun onHeadersReceived(listener: (HeadersReceived) -> Unit): Long =
        native.onHeadersReceived(object : HeadersListener {
            override fun onHeaders(header: Map<String, String>) = guarded("headers") {
                listener(HeadersReceived(header))
            }
        }).toLong()

    /** Removes headers listener `id`, or every one without it. */
    fun offHeadersReceived(id: Long? = null): Boolean = native.offHeadersReceived(id?.toULong())

    /** Adds a listener for the upload's notices; the id removes it. */
    fun onNotice(listener: (UploadNotice) -> Unit): Long =
        native.onNotice(object : NoticeListener {
            override fun onNotice(notice: uptask.ffi.UploadNotice) = guarded("notice") {
                listener(
                    UploadNotice(
                        notice.kind,
                        notice.url,
                        notice.offset?.toLong(),
                        notice.attempt?.toInt(),
                        notice.delayMs?.toLong(),
                        notice.message,
                    ),
                )
            }
        }).toLong()

    /** Removes notice listener `id`, or every one without it. */
    fun offNotice(id: Long? = null): Boolean = native.offNotice(id?.toULong())

    /** [onProgressUpdate], returning the task for chaining. */
    fun progress(listener: (Progress) -> Unit): UploadTask = apply { onProgressUpdate(listener) }

    /** [onHeadersReceived], returning the task for chaining. */
    fun headersReceived(listener: (HeadersReceived) -> Unit): UploadTask =
        apply { onHeadersReceived(listener) }

    /** Pauses a tus upload after its current chunk; `false` for other protocols or once ended. */
    fun pause(): Boolean = native.pause()

    /** Resumes a paused tus upload. */
    fun resume(): Boolean = native.resume()

    /** Whether the upload has ended. */
    val isFinished: Boolean get() = native.isFinished()

    /**
     * Blocks until the upload ends and gives the server's answer; with `timeoutMs`, throws
     * [TimeoutException] if it runs longer (the upload goes on).
     *
     * @throws UploadException when there is no answer (aborted, timed out, network, ...).
     */
    fun wait(timeoutMs: Long? = null): UploadSuccess {
        require(timeoutMs == null || timeoutMs >= 0) { "timeoutMs must not be negative" }
        val done = try {
            native.wait(timeoutMs?.toULong())
        } catch (e: UploadFailure.Failed) {
            throw UploadException(e.errMsg, e.kind)
        }
        return done?.kotlin() ?: throw TimeoutException("the upload is still running after $timeoutMs ms")
    }

    /**
     * Suspends until the upload ends, without holding a thread, and gives the server's answer.
     * Cancelling the coroutine aborts the upload.
     *
     * @throws UploadException when there is no answer.
     */
    suspend fun await(): UploadSuccess {
        suspendCancellableCoroutine { waiting ->
            waiting.invokeOnCancellation { native.abort() }
            native.onSettled(object : SettledListener {
                override fun onSettled() {
                    waiting.resume(Unit)
                }
            })
        }
        return wait(0)
    }

    /**
     * The upload's progress as a cold [Flow], conflated (a slow collector sees the latest
     * report, always the last one); it completes when the upload gets its answer and fails with
     * [UploadException] when it does not.
     */
    fun progressFlow(): Flow<Progress> = callbackFlow {
        val id = onProgressUpdate { trySend(it) }
        native.onSettled(object : SettledListener {
            override fun onSettled() {
                val failure = runCatching { wait(0) }.exceptionOrNull()
                channel.close(failure)
            }
        })
        awaitClose { offProgressUpdate(id) }
    }.conflate()

    /** Frees the native task (the upload itself goes on until it ends). */
    override fun close() = native.close()
}

private fun uptask.ffi.Progress.kotlin() = Progress(
    progress.toInt(),
    totalBytesSent.toLong(),
    totalBytesExpectedToSend.toLong(),
    speed?.toLong(),
    eta?.toLong(),
)

private fun uptask.ffi.UploadSuccess.kotlin() =
    UploadSuccess(errMsg, statusCode.toInt(), header, data, uploadUrl)
