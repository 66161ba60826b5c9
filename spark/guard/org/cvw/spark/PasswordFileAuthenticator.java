package org.cvw.spark;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import javax.security.sasl.AuthenticationException;
import org.apache.hive.service.auth.PasswdAuthenticationProvider;

/**
 * The Thrift server's logins (hive.server2.authentication=CUSTOM): the file named by the environment variable
 * CVW_SPARK_USERS_FILE holds one line per user, "user:salt:sha256hex(salt + password)" (scripts/spark_cluster.sh
 * writes it, mode 600). The file is read at every login, so a new password needs no restart.
 */
public final class PasswordFileAuthenticator implements PasswdAuthenticationProvider {
    @Override
    public void Authenticate(String user, String password) throws AuthenticationException {
        String name = System.getenv("CVW_SPARK_USERS_FILE");
        if (name == null || name.isEmpty()) {
            throw new AuthenticationException("CVW_SPARK_USERS_FILE is not set on the Thrift server");
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(Paths.get(name), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AuthenticationException("cannot read the users file " + name, e);
        }
        for (String line : lines) {
            String[] parts = line.trim().split(":", 3);
            if (parts.length == 3 && parts[0].equals(user)) {
                byte[] want = HexFormat.of().parseHex(parts[2]);
                byte[] have = sha256(parts[1] + (password == null ? "" : password));
                if (MessageDigest.isEqual(want, have)) {
                    return;
                }
                break;
            }
        }
        throw new AuthenticationException("wrong user name or password for " + user);
    }

    private static byte[] sha256(String text) throws AuthenticationException {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new AuthenticationException("no SHA-256", e);
        }
    }
}
