/*
 * PortholeHeapTarget.java - the JVM that tests/e2e/dump_jvm.sh dumps: it
 * holds N instances of a class with a distinctive name (found again in the
 * .hprof) and, optionally, M MiB of random bytes (a dump that compresses
 * badly, so it stays in flight when the reader stops), prints "ready PID"
 * and waits to be dumped or killed.
 *
 * usage: java PortholeHeapTarget [N [M]]
 */
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

public class PortholeHeapTarget {
	static final class PortholeLeakMarker {
		final byte[] payload = new byte[64];
		final String tag;

		PortholeLeakMarker(int i) {
			tag = "porthole-leak-" + i;
		}
	}

	static final List<PortholeLeakMarker> held = new ArrayList<>();
	static final List<byte[]> noise = new ArrayList<>();

	public static void main(String[] args) throws Exception {
		int n = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
		int mib = args.length > 1 ? Integer.parseInt(args[1]) : 0;
		Random r = new Random(7);

		for (int i = 0; i < n; i++)
			held.add(new PortholeLeakMarker(i));
		for (int i = 0; i < mib; i++) {
			byte[] b = new byte[1 << 20];
			r.nextBytes(b);
			noise.add(b);
		}
		System.out.println("ready " + ProcessHandle.current().pid());
		System.out.flush();
		for (;;)
			Thread.sleep(1000);
	}
}
