# うまくいかなかったときの説明。エラーページとサーバー選択で使います。

## エラーページの見出し

error-heading-unavailable = 少し待ってからもう一度お試しください
error-heading-not-found = ページが見つかりません
error-heading-upstream = あなたのサーバーでログインできませんでした
error-heading-too-many = ただいまログインが集中しています
error-heading-cannot-continue = このログインは続けられません

## 読み取れないリクエスト

error-not-found = このアドレスには何もありません。
error-timeout = 時間がかかりすぎました。もう一度お試しください。
error-unavailable = サービスは一時的に利用できません。少し待ってからもう一度お試しください。
error-bad-location = 次に進むアドレスが正しくありません。
error-request-too-large = ログインのリクエストが大きすぎます。
error-request-not-form = ログインのリクエストがフォームとして送られていません。
error-request-not-text = ログインのリクエストが正しいテキストではありません。
error-request-malformed = ログインのリクエストの形式が正しくありません（{ $detail }）。
error-callback-malformed = 戻ってきたアドレスの形式が正しくありません。
error-form-unreadable = フォームを読み取れませんでした。
error-choose-allow-deny = 「許可する」か「拒否する」を選んでください。
error-csrf = このフォームはこのログインページから送られていません。ページを再読み込みして、もう一度お試しください。
error-cross-site = このフォームは別のサイトから送られました。アプリに戻って、もう一度ログインしてください。

## アプリとそのリクエスト

error-unknown-client = ここへ案内したアプリは、このサービスに登録されていません。
error-no-client-id = リクエストにアプリの指定がありません（client_id がありません）。
error-no-redirect-uri = アプリが戻り先を指定していません（redirect_uri がありません）。
error-unregistered-redirect = アプリが、登録されていないアドレスに戻そうとしています。
error-client-gone = ログインしようとしたアプリは、もう登録されていません。
error-client-address-invalid = アプリのアドレスが正しくありません。

## ログインそのもの

error-expired = このログインは期限切れか、すでに完了しています。アプリに戻って最初からやり直してください。
error-pushed-expired = このログインのリクエストは期限切れか、すでに使われています。アプリに戻って最初からやり直してください。
error-other-browser = このログインは別のブラウザーで始められたか、ブラウザーが Cookie を保持していません。
    アプリに戻って最初からやり直してください。
error-callback-no-state = サーバーから必要な情報がないまま戻ってきました。アプリから最初からやり直してください。
error-mix-up = この応答は、選んだサーバーとは別のサーバーから届きました。アプリから最初からやり直してください。
error-upstream-reported = あなたのサーバーがエラーを返しました（{ $error }）。もう一度試すか、別のサーバーを選んでください。
error-upstream-no-code = あなたのサーバーからログインコードなしで戻ってきました。もう一度お試しください。
error-app-changed = ログインの途中で、あなたのサーバーでのこちらの登録が変わりました。もう一度お試しください。
error-account-check-failed = アカウントを確認しようとしましたが、{ $instance } から応答がありませんでした（{ $detail }）。
    少し待ってからもう一度お試しください。
error-wrong-account = { $expected } としてログインしようとしましたが、{ $instance } では { $actual } としてログインしています。
    そちらでアカウントを切り替えるか、サーバーを選び直してください。
error-identity = { $instance } があなたのアカウントを正しく示さなかったため、本人であることを保証できません。

## サーバー選択での入力

handle-empty = Fediverse のアドレス（例: @you@example.social）か、サーバー（例: example.social）を入力してください。
handle-invalid = Fediverse のアドレスやサーバー名ではないようです。@you@example.social や example.social のように入力してください。
handle-not-https = 使えるのは https:// のサーバーだけです。

## あなたのサーバー

upstream-blocked = { $instance } はこのサービスでは使えません。
upstream-unreachable = { $instance } に接続できませんでした。つづりを確かめるか、後でもう一度お試しください。
upstream-timeout = { $instance } から時間内に応答がありませんでした。後でもう一度お試しください。
upstream-busy = { $instance } は混み合っています。数分後にもう一度お試しください。
upstream-unavailable = { $instance } で問題が起きています。後でもう一度お試しください。
upstream-not-compatible = { $instance } は、こちらでログインに使えるサーバー（Mastodon、Misskey など）ではないようです。
upstream-rejected = { $instance } がログインを拒否しました。
upstream-oauth-disabled = { $instance } ではアプリによるログインが許可されていません。管理者が無効にしています。
    別のサーバーのアカウントでログインしてください。
upstream-no-secure-sign-in = { $instance } はアプリ向けの安全なログインに対応していません。バージョンが古すぎます（2023.9 より前の Misskey、
    または OAuth 2.0 のないフォーク）。管理者に更新を頼むか、別のサーバーのアカウントでログインしてください。
upstream-redirected = { $instance } から別のアドレスに案内されました。アカウントが別のサーバーにある場合は、そのサーバー名を入力してください。
upstream-internal = { $instance } との通信中に問題が起きました。もう一度お試しください。

## 運営者のルール

refusal-instance-denied = このサービスは { $instance } のアカウントを受け付けていません。運営者がこのサーバーをブロックしています。
refusal-instance-not-allowed = このサービスは運営者が選んだサーバーのアカウントだけを受け付けます。{ $instance } はその中に含まれていません。
refusal-bot = { $handle } は bot アカウントです。このサービスは人のアカウントだけを受け付け、bot は受け付けません。
refusal-too-new = { $handle } は作成されて間もないため、ここではログインできません。このサービスは作成から { $days } 日以上たったアカウントを受け付けます。
    後でもう一度お試しください。
refusal-age-unknown = あなたのサーバーが { $handle } の作成日を教えてくれませんでした。このサービスは作成から { $days } 日以上たったアカウントだけを受け付けるため、ログインできません。
refusal-locked = { $handle } は鍵アカウントです（フォロワーを承認制にしています）。このサービスは鍵アカウントを受け付けません。
refusal-suspended = あなたのサーバーによると、{ $handle } は凍結されています。このサービスは凍結されたアカウントを受け付けません。
refusal-limited = あなたのサーバーによると、{ $handle } はモデレーターにより制限されています。このサービスは制限されたアカウントを受け付けません。

## 不正利用の防止

limit-logins = あなたのネットワークから、またはこのサービス全体で、ログインが短時間に集中しています。
    少し待ってからもう一度お試しください。
limit-picker = あなたのネットワークから、短時間に多くのサーバーが試されました。少し待ってからもう一度お試しください。
limit-new-instances = このサービスは最近多くの新しいサーバーとの連携を設定したため、今はあなたのサーバーを追加できません。
    後でもう一度お試しください。
limit-api = リクエストが多すぎます。少し待ってからもう一度お試しください。

## ログアウト

logout-unreadable = ログアウトのリクエストを読み取れませんでした。
logout-malformed = ログアウトのリクエストの形式が正しくありません。
logout-bad-hint = アプリから無効なログアウトのリクエストが送られました（id_token_hint がこちらのものではありません）。
logout-client-mismatch = アプリから無効なログアウトのリクエストが送られました（client_id が一致しません）。
logout-unregistered-redirect = アプリが、登録されていないアドレスに移動させようとしています。
logout-csrf = このフォームはこちらのログアウトページから送られていません。アプリに戻って、もう一度ログアウトしてください。
