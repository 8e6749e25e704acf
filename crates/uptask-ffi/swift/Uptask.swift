// uptask for Swift (iOS): Taro's UploadTask over uptask's Rust engine, through the bindings
// uniffi generates into the module `uptask_ffi` (see README.md next to this file). This layer
// gives them Swift's shapes: closures for listeners, chainable `progress` and
// `headersReceived`, `func value() async throws` (cancelling the Swift task aborts the
// upload), and an `UploadError` with Taro's `errMsg`.
//
// NOT COMPILED OR RUN HERE: the machines this project is tested on have no Swift toolchain.
//
//     let task = uploadFile(url: "https://example.com/files/", filePath: path, name: "file",
//                           protocol: "tus", resumeStore: uploadsDirectory.path)
//         .progress { print("\($0.progress)% \($0.totalBytesSent)/\($0.totalBytesExpectedToSend)") }
//     let done = try await task.value()   // or task.wait(); task.abort() from anywhere

import Foundation
import uptask_ffi

/// One progress report: `progress` (whole percent), `totalBytesSent`,
/// `totalBytesExpectedToSend`, and `speed` and `eta` once known.
public typealias UploadProgress = uptask_ffi.Progress

/// The server's answer, whatever its status: `errMsg` ("uploadFile:ok"), `statusCode`,
/// `header`, `data`, and `uploadUrl` for tus and S3.
public typealias UploadSuccess = uptask_ffi.UploadSuccess

/// The upload got no answer: `errMsg` as Taro words it ("uploadFile:fail abort", ...), and its
/// `kind` ("aborted", "timeout", "connect", "tls", "io", "invalidInput", "protocol", "internal").
public struct UploadError: Error, CustomStringConvertible, Sendable {
    public let errMsg: String
    public let kind: String
    public var description: String { errMsg }
}

/// Listeners run on uptask's event thread, one at a time and in order; hop to the main actor
/// in them to touch the UI. A listener added after the upload began first gets what it missed.
public final class UploadTask: @unchecked Sendable {
    let inner: uptask_ffi.UploadTask

    init(_ inner: uptask_ffi.UploadTask) {
        self.inner = inner
    }

    /// Stops the upload at any stage; its outcome is then "uploadFile:fail abort". `false`
    /// once it had ended.
    @discardableResult
    public func abort() -> Bool { inner.abort() }

    /// Adds a progress listener; the id removes it.
    @discardableResult
    public func onProgressUpdate(_ listener: @escaping @Sendable (UploadProgress) -> Void) -> UInt64 {
        inner.onProgressUpdate(listener: OnProgress(listener))
    }

    /// Removes progress listener `id`, or all of them without one.
    @discardableResult
    public func offProgressUpdate(_ id: UInt64? = nil) -> Bool { inner.offProgressUpdate(id: id) }

    /// Adds a listener for the response's headers (names lower-cased); the id removes it.
    @discardableResult
    public func onHeadersReceived(_ listener: @escaping @Sendable ([String: String]) -> Void) -> UInt64 {
        inner.onHeadersReceived(listener: OnHeaders(listener))
    }

    /// Removes headers listener `id`, or all of them without one.
    @discardableResult
    public func offHeadersReceived(_ id: UInt64? = nil) -> Bool { inner.offHeadersReceived(id: id) }

    /// Chainable `onProgressUpdate`.
    public func progress(_ listener: @escaping @Sendable (UploadProgress) -> Void) -> UploadTask {
        onProgressUpdate(listener)
        return self
    }

    /// Chainable `onHeadersReceived`.
    public func headersReceived(_ listener: @escaping @Sendable ([String: String]) -> Void) -> UploadTask {
        onHeadersReceived(listener)
        return self
    }

    /// Pauses a tus upload after its current chunk; `false` for other protocols.
    @discardableResult
    public func pause() -> Bool { inner.pause() }

    /// Resumes a paused tus upload from the server's offset.
    @discardableResult
    public func resume() -> Bool { inner.resume() }

    /// Blocks until the upload ends, or for `timeoutMs` at most (then `nil`, the upload going
    /// on). Never on the main thread: use `value()` there.
    public func wait(timeoutMs: UInt64? = nil) throws -> UploadSuccess? {
        do {
            return try inner.wait(timeoutMs: timeoutMs)
        } catch let uptask_ffi.UploadFailure.Failed(errMsg, kind) {
            throw UploadError(errMsg: errMsg, kind: kind)
        }
    }

    /// The outcome, without blocking a thread; cancelling the calling Swift task aborts the
    /// upload (which then ends with "uploadFile:fail abort").
    public func value() async throws -> UploadSuccess {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (done: CheckedContinuation<UploadSuccess, Error>) in
                inner.onSettled(listener: OnSettled { [self] in
                    // Settled: wait gives the outcome at once.
                    done.resume(with: Result {
                        guard let success = try wait(timeoutMs: 0) else {
                            throw UploadError(errMsg: "uploadFile:fail the upload had not ended", kind: "internal")
                        }
                        return success
                    })
                })
            }
        } onCancel: {
            _ = inner.abort()
        }
    }
}

/// Starts uploading `filePath` at once and returns its task. Options it cannot take give a task
/// that has already failed (its `value()` throws why) before any byte goes out.
///
/// - Parameters:
///   - protocol: "multipart" (one POST), "tus" (resumable) or "s3" (straight to a bucket
///     through the signer at `url`, e.g. "https://app.example/s3"; `header` goes to it only).
///   - timeoutMs: for the whole upload; default 60000.
///   - resumeStore: for "tus" and "s3", a directory where the upload is remembered, so that an
///     app killed mid-way continues where the server's bytes end.
///   - partSize, concurrency: for "s3", bytes per part (at least 5 MiB; default 8 MiB) and
///     parts at once (default 4).
public func uploadFile(
    url: String,
    filePath: String,
    name: String,
    header: [String: String] = [:],
    formData: [String: String] = [:],
    fileName: String? = nil,
    timeoutMs: UInt64? = nil,
    protocol: String = "multipart",
    resumeStore: String? = nil,
    partSize: UInt64? = nil,
    concurrency: UInt32? = nil
) -> UploadTask {
    let request = uptask_ffi.UploadRequest(
        url: url,
        filePath: filePath,
        name: name,
        header: header.map { uptask_ffi.Pair(name: $0.key, value: $0.value) },
        formData: formData.map { uptask_ffi.Pair(name: $0.key, value: $0.value) },
        fileName: fileName,
        timeoutMs: timeoutMs,
        protocol: `protocol`,
        resumeStore: resumeStore,
        partSize: partSize,
        concurrency: concurrency
    )
    return UploadTask(uptask_ffi.uploadFile(request: request))
}

private final class OnProgress: uptask_ffi.ProgressListener, @unchecked Sendable {
    let f: @Sendable (UploadProgress) -> Void
    init(_ f: @escaping @Sendable (UploadProgress) -> Void) { self.f = f }
    func onProgress(update: UploadProgress) { f(update) }
}

private final class OnHeaders: uptask_ffi.HeadersListener, @unchecked Sendable {
    let f: @Sendable ([String: String]) -> Void
    init(_ f: @escaping @Sendable ([String: String]) -> Void) { self.f = f }
    func onHeaders(header: [String: String]) { f(header) }
}

private final class OnSettled: uptask_ffi.SettledListener, @unchecked Sendable {
    let f: @Sendable () -> Void
    init(_ f: @escaping @Sendable () -> Void) { self.f = f }
    func onSettled() { f() }
}
