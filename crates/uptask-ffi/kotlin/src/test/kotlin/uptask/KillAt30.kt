package uptask

/**
 * A process of its own for the resume test: starts a tus upload and has itself SIGKILLed once
 * 30 % is sent, as an app killed mid-upload is.
 */
fun main(args: Array<String>) {
    val (url, path, store) = args
    val task = uploadFile(url, path, "file", protocol = "tus", resumeStore = store)
    task.onProgressUpdate {
        if (it.progress >= 30) {
            ProcessBuilder("kill", "-9", ProcessHandle.current().pid().toString()).start().waitFor()
        }
    }
    task.wait(60_000)
}
