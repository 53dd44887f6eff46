// A real SMTP server on loopback (npm smtp-server) that keeps every mail it receives, for
// the tests of what Cairn mails (registration, password reset).
import { SMTPServer } from 'smtp-server';

/**
 * Starts the mailbox. Resolves to { mails, url, close }: mails fills with
 * { to: [addresses], raw: the message as received, UTF-8 }, url is the smtp:// URL to
 * give Cairn (CAIRN_MAIL_SMTP_URL), close() stops the server.
 */
export async function startMailbox() {
  const mails = [];
  const smtp = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (d) => chunks.push(d));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  await new Promise((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  return { mails, url: `smtp://127.0.0.1:${smtp.server.address().port}`, close: () => smtp.close() };
}
