import java.math.BigDecimal;
import java.sql.*;

/** Drives doris-br through MariaDB Connector/J and prints key=value lines for tests/test_cluster.py. */
public class JdbcProbe {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:mariadb://127.0.0.1:" + args[0] + "/?user=root&password=&useServerPrepStmts=true";
        try (Connection conn = DriverManager.getConnection(url)) {
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SHOW BACKENDS")) {
                int n = 0;
                while (rs.next()) n++;
                System.out.println("backends=" + n);
            }
            System.out.println("valid=" + conn.isValid(5));
            System.out.println("quoted=" + one(conn, "SELECT ? AS v", "O'Brien \\ x"));
            System.out.println("injection=" + one(conn, "SELECT ? AS v", "nobody' OR '1'='1"));
            try (PreparedStatement ps = conn.prepareStatement("SELECT ? AS d, ? AS t, ? AS m, ? AS i")) {
                ps.setDate(1, Date.valueOf("2024-02-29"));
                ps.setTimestamp(2, Timestamp.valueOf("2024-02-29 13:14:15"));
                ps.setBigDecimal(3, new BigDecimal("12345.678"));
                ps.setInt(4, 42);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    System.out.println("date=" + rs.getString(1));
                    System.out.println("datetime=" + rs.getString(2));
                    System.out.println("decimal=" + rs.getString(3));
                    System.out.println("int=" + rs.getString(4));
                }
            }
            try (Statement st = conn.createStatement()) {
                st.executeQuery("SELEC 1");
            } catch (SQLException e) {
                System.out.println("error=" + e.getErrorCode());
            }
        }
    }

    static String one(Connection conn, String sql, String value) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement(sql)) {
            ps.setString(1, value);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }
}
