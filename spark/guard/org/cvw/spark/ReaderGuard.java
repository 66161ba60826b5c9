package org.cvw.spark;

import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.analysis.ResolvedNamespace;
import org.apache.spark.sql.catalyst.CurrentUserContext;
import org.apache.spark.sql.catalyst.catalog.CatalogTable;
import org.apache.spark.sql.catalyst.catalog.HiveTableRelation;
import org.apache.spark.sql.catalyst.expressions.CallMethodViaReflection;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.View;
import org.apache.spark.sql.execution.command.SetCommand;
import org.apache.spark.sql.execution.command.ShowTablesCommand;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import scala.Function1;
import scala.Option;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.BoxedUnit;

/**
 * spark.sql.extensions=org.cvw.spark.ReaderGuard: the users named in spark.cvw.readers (a comma list, read once
 * from the application's SparkConf, so a session's SET cannot change it) may only read the published tables.
 * Their statements are checked after analysis (a check rule), before anything runs:
 * every table or view they touch must be in `analytics` (the views BI reads), a published version
 * `analytics_<UTC timestamp>_<hex>` or `analytics_history`; no statement that writes, creates, drops, caches
 * or changes settings; no listing or describing another database (`default`, which the pipeline leaves
 * empty and clients open with USE, is allowed); no query on files by path; no
 * reflect/java_method. Other users are not checked.
 * Spark itself has no grants; the JDBC metadata calls (getTables) still list every database's names.
 */
public final class ReaderGuard implements Function1<SparkSessionExtensions, BoxedUnit> {
    private static final Pattern PUBLISHED = Pattern.compile("analytics|analytics_history|analytics_\\d{14}_[0-9a-f]{6}");
    private static final Set<String> READ_COMMANDS = Set.of(
        "ShowNamespacesCommand", "ShowNamespaces", "ShowTablesCommand", "ShowTables", "ShowViewsCommand",
        "ShowViews", "ShowColumnsCommand", "ShowColumns", "DescribeTableCommand", "DescribeRelation",
        "DescribeColumnCommand", "DescribeColumn", "DescribeQueryCommand", "ShowFunctionsCommand", "ShowFunctions",
        "DescribeFunctionCommand", "DescribeFunction", "ShowCurrentNamespaceCommand", "ShowCatalogsCommand",
        "SetCatalogAndNamespace", "SetNamespaceCommand", "SetCommand", "ShowTablePropertiesCommand",
        "ShowCreateTableCommand", "ShowPartitionsCommand");

    @Override
    public BoxedUnit apply(SparkSessionExtensions extensions) {
        extensions.injectCheckRule(Check::new);
        return BoxedUnit.UNIT;
    }

    static final class Check implements Function1<LogicalPlan, BoxedUnit> {
        private final Set<String> readers = new HashSet<>();

        Check(SparkSession session) {
            for (String user : session.sparkContext().getConf().get("spark.cvw.readers", "").split(",")) {
                if (!user.isBlank()) {
                    readers.add(user.trim());
                }
            }
        }

        @Override
        public BoxedUnit apply(LogicalPlan plan) {
            String user = CurrentUserContext.CURRENT_USER().get();
            if (user != null && readers.contains(user)) {
                visit(plan, user);
            }
            return BoxedUnit.UNIT;
        }

        private static void deny(String user, String what) {
            throw new SecurityException("cvw: user " + user + " may only read the published tables (analytics): "
                + what + " is not allowed");
        }

        private static void database(String user, CatalogTable table) {
            Option<String> db = table.identifier().database();
            if (db.isEmpty() || !PUBLISHED.matcher(db.get()).matches()) {
                deny(user, "reading " + table.identifier().unquotedString());
            }
        }

        private static void visit(LogicalPlan plan, String user) {
            String kind = plan.getClass().getSimpleName();
            if (plan instanceof Command && !READ_COMMANDS.contains(kind)) {
                deny(user, "the statement " + kind);
            }
            if (plan instanceof SetCommand set && set.kv().isDefined() && set.kv().get()._2().isDefined()) {
                deny(user, "changing a setting");
            }
            if (plan instanceof ShowTablesCommand show && show.databaseName().isDefined()
                && !PUBLISHED.matcher(show.databaseName().get()).matches()) {
                deny(user, "listing the tables of " + show.databaseName().get());
            }
            if (plan instanceof ResolvedNamespace namespace && namespace.namespace().nonEmpty()
                && !PUBLISHED.matcher(namespace.namespace().last()).matches()
                && !namespace.namespace().last().equals("default")) {  // clients open with USE default
                deny(user, "the database " + namespace.namespace().last());
            }
            if (plan instanceof LogicalRelation relation) {
                if (relation.catalogTable().isEmpty()) {
                    deny(user, "a query on files by path");
                }
                database(user, relation.catalogTable().get());
            }
            if (plan instanceof HiveTableRelation relation) {
                database(user, relation.tableMeta());
            }
            if (plan instanceof View view && !view.isTempView()) {
                database(user, view.desc());
            }
            for (Expression expression : CollectionConverters.asJava(plan.expressions())) {
                visitExpression(expression, user);
            }
            for (LogicalPlan child : CollectionConverters.asJava(plan.children())) {
                visit(child, user);
            }
            for (LogicalPlan subquery : CollectionConverters.asJava(plan.subqueries())) {
                visit(subquery, user);
            }
        }

        private static void visitExpression(Expression expression, String user) {
            if (expression instanceof CallMethodViaReflection) {
                deny(user, "reflect/java_method");
            }
            for (Expression child : CollectionConverters.asJava(expression.children())) {
                visitExpression(child, user);
            }
        }
    }
}
