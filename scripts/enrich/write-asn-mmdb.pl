#!/usr/bin/perl
# Writes a MaxMind DB (.mmdb) ASN database in GeoLite2-ASN's layout with Debian's
# libmaxmind-db-writer-perl (MaxMind's own writer, MaxMind::DB::Writer::Tree), for tests and
# benchmarks: no real GeoLite2 file can be downloaded here.
#
#   perl scripts/enrich/write-asn-mmdb.pl OUT.mmdb < networks.tsv
#
# Input: one network per line, "PREFIX<TAB>ASN<TAB>ORGANISATION" (IPv4 or IPv6 CIDR). Records
# carry autonomous_system_number (uint32) and autonomous_system_organization (utf8_string),
# exactly GeoLite2-ASN's fields; database_type is "GeoLite2-ASN".
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: write-asn-mmdb.pl OUT.mmdb < networks.tsv\n";
my $tree = MaxMind::DB::Writer::Tree->new(
  ip_version            => 6,
  record_size           => 28,
  database_type         => 'GeoLite2-ASN',
  languages             => ['en'],
  description           => { en => 'slowshake test ASN database' },
  map_key_type_callback => sub { $_[0] eq 'autonomous_system_number' ? 'uint32' : 'utf8_string' },
  # IPv4 networks are also reachable through ::a.b.c.d (the reader looks them up there)
  alias_ipv6_to_ipv4    => 1,
  remove_reserved_networks => 0,
);
my $n = 0;
while (my $line = <STDIN>) {
  chomp $line;
  next if $line =~ /^\s*(#|$)/;
  my ($net, $asn, $org) = split /\t/, $line, 3;
  die "line $.: expected PREFIX<TAB>ASN<TAB>ORG\n" unless defined $org && $asn =~ /^\d+$/;
  $tree->insert_network($net, { autonomous_system_number => $asn + 0, autonomous_system_organization => $org });
  $n++;
}
open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh or die "$out: $!\n";
print STDERR "wrote $out: $n networks\n";
