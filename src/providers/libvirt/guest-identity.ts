import { randomBytes } from 'node:crypto';
import { generateSshKeyPair } from '../../ssh/generate-ssh-key-pair.js';

const HOST_KEY = '/etc/ssh/ssh_host_ed25519_key';

/**
 * Shell lines giving a machine restored from a template an identity of its own where the image
 * has one to give: a new `/etc/machine-id` (systemd, D-Bus and DHCP client ids derive from it)
 * and, under OpenSSH, a new ed25519 host key, the template's RSA and ECDSA keys removed. No reload:
 * sshd re-executes itself for every connection and reads its host keys then. Keys are made on
 * the host: under TCG, `ssh-keygen` in the guest would cost seconds. Each line succeeds on an
 * image without the file (the tiny image: no machine-id, dropbear).
 */
export function freshIdentityScript(hostname: string): string[] {
  const machineId = randomBytes(16).toString('hex');
  const key = generateSshKeyPair(`root@${hostname}`);
  return [
    `if [ -s /etc/machine-id ]; then echo ${machineId} >/etc/machine-id; fi`,
    [
      'if [ -f /etc/ssh/sshd_config ]; then',
      `rm -f /etc/ssh/ssh_host_rsa_key* /etc/ssh/ssh_host_ecdsa_key* &&`,
      `(umask 077 && printf '%s\\n' '${key.privateKey.trim()}' >${HOST_KEY}) &&`,
      `echo '${key.publicKey}' >${HOST_KEY}.pub;`,
      'fi',
    ].join(' '),
  ];
}
